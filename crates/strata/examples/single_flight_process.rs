//! One process of the cross-process single-flight test: `CALLERS` concurrent callers of one cold
//! key, waiting for other instances' loads; each real load increments a counter in Redis.
//!
//! `single_flight_process REDIS_URL COUNTER_KEY CALLERS [LOAD_MS [HARD_TIMEOUT_MS]]`
//! (defaults: a 500 ms load, no hard timeout: the lease lasts 10.5 s).

use std::time::Duration;

use strata::{CacheBuilder, CacheConfig, LoadOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, counter, callers) = match args.as_slice() {
        [_, url, counter, callers, ..] => (url, counter, callers.parse::<usize>()?),
        _ => {
            return Err(
                "usage: single_flight_process REDIS_URL COUNTER_KEY CALLERS [LOAD_MS [HARD_TIMEOUT_MS]]"
                    .into(),
            );
        }
    };
    let load_ms: u64 = args.get(4).map_or(Ok(500), |s| s.parse())?;
    let hard_timeout: Option<u64> = args.get(5).map(|s| s.parse()).transpose()?;
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"sf\"\nmetrics = false\n[backend]\nurl = \"{url}\"\n"
    ))?;
    let cache = CacheBuilder::from_config(config).build().await?;
    let jobs = cache.kind::<String>("job")?;
    let mut opts = LoadOptions::new().wait_for_other_instances(Duration::from_secs(10));
    if let Some(ms) = hard_timeout {
        opts = opts.hard_timeout(Duration::from_millis(ms));
    }
    let redis = redis::Client::open(url.as_str())?;
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (jobs, opts, redis, counter) =
            (jobs.clone(), opts.clone(), redis.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            jobs.get_or_load_with(1, &opts, || async move {
                let mut conn = redis
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())?;
                let _: i64 = redis::cmd("INCR")
                    .arg(&counter)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::time::sleep(Duration::from_millis(load_ms)).await;
                Ok::<_, String>("loaded once".to_string())
            })
            .await
        }));
    }
    for t in tasks {
        let v = t.await?.map_err(|e| e.to_string())?;
        if *v != "loaded once" {
            return Err(format!("unexpected value {v}").into());
        }
    }
    println!("ok");
    Ok(())
}
