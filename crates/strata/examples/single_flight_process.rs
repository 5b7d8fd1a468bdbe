//! One process of the cross-process single-flight test: `CALLERS` concurrent callers of one cold
//! key, waiting for other instances' loads; each real load increments a counter in Redis.
//!
//! `single_flight_process REDIS_URL COUNTER_KEY CALLERS`

use std::time::Duration;

use strata::{CacheBuilder, CacheConfig, LoadOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, counter, callers] = args.as_slice() else {
        return Err("usage: single_flight_process REDIS_URL COUNTER_KEY CALLERS".into());
    };
    let callers: usize = callers.parse()?;
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"sf\"\nmetrics = false\n[backend]\nurl = \"{url}\"\n"
    ))?;
    let cache = CacheBuilder::from_config(config).build().await?;
    let jobs = cache.kind::<String>("job")?;
    let opts = LoadOptions::new().wait_for_other_instances(Duration::from_secs(10));
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
                tokio::time::sleep(Duration::from_millis(500)).await;
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
