//! The `rtt` group: what each operation costs in Redis round trips, and in time when every
//! round trip pays a network's latency (+0.5 ms and +1 ms, added by the testkit's proxy in
//! front of a spawned redis-server). The facade's operations run against plain cache-aside
//! (raw redis-rs: `GET`, then `SET` on a miss) through the same proxy; the demo's requests
//! against the same demo with `--no-cache`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use strata::{Cache, CacheBuilder, CacheConfig, KindCache, LoadOptions, Rules, Target};
use strata_testkit::{RedisServer, RoundTripProxy};

use crate::demo_process::DemoProcess;

/// The added latencies, in milliseconds.
const LATENCIES_MS: [f64; 2] = [0.5, 1.0];

/// One measured operation: round trips and latency (milliseconds).
struct Measured {
    round_trips: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Times `n` runs of `op(i)` and counts the proxy's round trips per run.
async fn measure<F, Fut>(proxy: &RoundTripProxy, n: usize, mut op: F) -> Measured
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(n);
    proxy.reset();
    for i in 0..n {
        let start = Instant::now();
        op(i).await;
        times.push(start.elapsed());
    }
    let round_trips = proxy.round_trips() as f64 / n as f64;
    times.sort_unstable();
    let pct = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3
    };
    Measured {
        round_trips,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

fn row(what: &str, latency_ms: f64, m: &Measured, peer: Option<(&str, &Measured)>) -> Value {
    json!({
        "what": what,
        "latency_ms": latency_ms,
        "round_trips": m.round_trips,
        "p50_ms": m.p50_ms,
        "p99_ms": m.p99_ms,
        "peer": peer.map(|(name, p)| json!({
            "name": name, "round_trips": p.round_trips, "p50_ms": p.p50_ms, "p99_ms": p.p99_ms,
        })),
    })
}

/// A cache on Redis through `proxy`, connected and subscribed.
async fn instance(proxy: &RoundTripProxy, l1: bool) -> Result<Cache> {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"rtt\"\njitter = 0.0\nmetrics = false\n[l1]\nenabled = {l1}\n[backend]\nurl = \"{}\"",
        proxy.url()
    ))?;
    let cache = CacheBuilder::from_config(config).build().await?;
    tokio::time::timeout(Duration::from_secs(10), cache.ready())
        .await
        .map_err(|_| anyhow::anyhow!("the bus never subscribed"))?;
    cache.admin().backend().ping().await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(cache)
}

fn rules() -> Rules {
    Rules::new().on("profile", |id| {
        vec![
            Target::key("user", id),
            Target::key("profile", id),
            Target::key("whoami", id),
            Target::tag(format!("user:{id}")),
        ]
    })
}

async fn load(i: usize) -> Result<String, std::io::Error> {
    Ok(format!("value {i}"))
}

/// The facade's operations and the cache-aside peer, at one latency.
async fn facade_rows(proxy: &RoundTripProxy, latency_ms: f64, n: usize) -> Result<Vec<Value>> {
    let bench = FacadeBench::new(proxy, latency_ms, n).await?;
    let mut rows = vec![bench.hit().await];
    rows.extend(bench.misses().await);
    rows.push(bench.set().await);
    rows.push(bench.change().await);
    Ok(rows)
}

/// What the facade rows run on: a writer instance (with L1) and a reader (without), their
/// `item` kinds, a raw connection for the cache-aside peer; ids from `base` (one range per
/// latency, so no row reads another's entries).
struct FacadeBench<'a> {
    proxy: &'a RoundTripProxy,
    latency_ms: f64,
    n: usize,
    base: usize,
    writer: Cache,
    _reader: Cache,
    w: KindCache<String>,
    r: KindCache<String>,
    raw: redis::aio::MultiplexedConnection,
}

impl<'a> FacadeBench<'a> {
    /// Both instances, warmed: the kind's counters read, `n` entries stored for the hits.
    async fn new(proxy: &'a RoundTripProxy, latency_ms: f64, n: usize) -> Result<Self> {
        let base = (latency_ms * 1e6) as usize;
        let writer = instance(proxy, true).await?;
        let reader = instance(proxy, false).await?;
        let (w, r) = (
            writer.kind::<String>("item")?,
            reader.kind::<String>("item")?,
        );
        w.get_or_load(base, || load(0)).await?;
        r.get(base).await?;
        w.set_many((0..n).map(|i| (base + 1 + i, format!("v{i}"))).collect())
            .await?;
        let raw = redis::Client::open(proxy.url())?
            .get_multiplexed_async_connection()
            .await?;
        Ok(Self {
            proxy,
            latency_ms,
            n,
            base,
            writer,
            _reader: reader,
            w,
            r,
            raw,
        })
    }

    /// An L2 hit against cache-aside `GET` and decode.
    async fn hit(&self) -> Value {
        let (base, r) = (self.base, &self.r);
        let hit = measure(self.proxy, self.n, |i| {
            let r = r.clone();
            async move {
                r.get(base + 1 + i).await.ok().flatten();
            }
        })
        .await;
        let codec = strata::MsgPackCodec::default();
        let peer_hit = measure(self.proxy, self.n, |i| {
            let (mut c, key) = (self.raw.clone(), r.key(base + 1 + i).unwrap().to_string());
            let codec = codec.clone();
            async move {
                let bytes: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                let _ = strata::Codec::decode::<String>(&codec, &bytes.unwrap_or_default(), None);
            }
        })
        .await;
        row(
            "L2 hit (get)",
            self.latency_ms,
            &hit,
            Some(("cache-aside GET", &peer_hit)),
        )
    }

    /// A miss, and a miss with a new tag, against cache-aside `GET` + `SET`.
    async fn misses(&self) -> [Value; 2] {
        let (base, r) = (self.base, &self.r);
        let miss = measure(self.proxy, self.n, |i| {
            let r = r.clone();
            async move {
                r.get_or_load(base + 10_000 + i, || load(i)).await.unwrap();
            }
        })
        .await;
        let peer_miss = measure(self.proxy, self.n, |i| {
            let mut c = self.raw.clone();
            let key = format!("rtt:peer:{base}:{i}");
            async move {
                let found: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                if found.is_none() {
                    let v = load(i).await.unwrap();
                    let _: () = redis::cmd("SET")
                        .arg(&key)
                        .arg(v)
                        .arg("PX")
                        .arg(3_600_000)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                }
            }
        })
        .await;
        let tagged = measure(self.proxy, self.n, |i| {
            let r = r.clone();
            async move {
                let opts = LoadOptions::new().tags([format!("owner:{base}:{i}")]);
                r.get_or_load_with(base + 20_000 + i, &opts, || load(i))
                    .await
                    .unwrap();
            }
        })
        .await;
        let peer = Some(("cache-aside GET + SET", &peer_miss));
        [
            row("miss (get_or_load)", self.latency_ms, &miss, peer),
            row(
                "miss with a new tag (get_or_load)",
                self.latency_ms,
                &tagged,
                peer,
            ),
        ]
    }

    /// A set against cache-aside `SET`.
    async fn set(&self) -> Value {
        let (base, w) = (self.base, &self.w);
        let set = measure(self.proxy, self.n, |i| {
            let w = w.clone();
            async move {
                w.set(base + 30_000 + i, "v".into()).await.unwrap();
            }
        })
        .await;
        let peer_set = measure(self.proxy, self.n, |i| {
            let mut c = self.raw.clone();
            let key = format!("rtt:peer:set:{base}:{i}");
            async move {
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg("v")
                    .arg("PX")
                    .arg(3_600_000)
                    .query_async(&mut c)
                    .await
                    .unwrap();
            }
        })
        .await;
        row(
            "set",
            self.latency_ms,
            &set,
            Some(("cache-aside SET", &peer_set)),
        )
    }

    /// A change through rules against cache-aside `DEL` of the three keys.
    async fn change(&self) -> Value {
        let base = self.base;
        let rules = Arc::new(rules());
        let change = measure(self.proxy, self.n, |i| {
            let (cache, rules) = (self.writer.clone(), rules.clone());
            async move {
                cache.invalidate(&rules, "profile", base + i).await.unwrap();
            }
        })
        .await;
        let peer_change = measure(self.proxy, self.n, |i| {
            let mut c = self.raw.clone();
            async move {
                let keys: Vec<String> = ["user", "profile", "whoami"]
                    .iter()
                    .map(|k| format!("rtt:peer:{k}:{base}:{i}"))
                    .collect();
                let _: u64 = redis::cmd("DEL")
                    .arg(&keys)
                    .query_async(&mut c)
                    .await
                    .unwrap();
            }
        })
        .await;
        row(
            "change through rules (3 keys + 1 tag)",
            self.latency_ms,
            &change,
            Some(("cache-aside DEL of 3 keys", &peer_change)),
        )
    }
}

/// A request's round trips and latency through `demo`, and its latency on `no_cache`.
async fn demo_row(
    proxy: &RoundTripProxy,
    client: &reqwest::Client,
    (demo, no_cache): (&str, &str),
    what: &str,
    latency_ms: f64,
    request: impl Fn(&reqwest::Client, &str, usize) -> reqwest::RequestBuilder,
    ids: std::ops::Range<usize>,
) -> Result<Value> {
    let n = ids.len();
    let first = ids.start;
    let send = |base: String| {
        let request = &request;
        move |i: usize| {
            let req = request(client, &base, first + i);
            async move {
                let r = req.send().await.expect("the demo answers");
                assert!(r.status().is_success(), "{}", r.status());
                let _ = r.bytes().await;
            }
        }
    };
    let cached = measure(proxy, n, send(demo.to_owned())).await;
    let plain = measure(proxy, n, send(no_cache.to_owned())).await;
    let mut v = row(what, latency_ms, &cached, None);
    v["no_cache_p50_ms"] = json!(plain.p50_ms);
    Ok(v)
}

/// Client tracking echoes an instance's own stores back to it, so the first read of each id
/// after its cold load reads L2 once (docs/configuration.md, "Coherence"): these reads, not
/// measured, let the echo arrive and take that read, so that the warm row measures L1 hits.
async fn absorb_echo(
    client: &reqwest::Client,
    demo: &str,
    request: impl Fn(&reqwest::Client, &str, usize) -> reqwest::RequestBuilder,
    ids: std::ops::Range<usize>,
) -> Result<()> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in ids {
        let r = request(client, demo, id).send().await?;
        anyhow::ensure!(r.status().is_success(), "{}", r.status());
    }
    Ok(())
}

fn demo_env(dir: &std::path::Path, redis: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("payshift.db").display()),
        ),
        ("STRATA_ADMIN_TOKEN", "rtt".to_owned()),
    ];
    if let Some(url) = redis {
        env.push(("REDIS_URL", url.to_owned()));
    }
    env
}

/// The demo's requests at one latency (ids from `first`, distinct per latency so that every
/// "cold" request is one).
async fn demo_rows(
    proxy: &RoundTripProxy,
    urls: (&str, &str),
    latency_ms: f64,
    n: usize,
    first: usize,
) -> Result<Vec<Value>> {
    let client = reqwest::Client::new();
    let whoami = |c: &reqwest::Client, base: &str, id: usize| {
        c.get(format!("{base}/accountsapp/whoami/{}", id % 1000 + 1))
    };
    let job = |c: &reqwest::Client, base: &str, id: usize| {
        c.get(format!("{base}/jobs/{}", id % 2000 + 1))
    };
    let profile = |c: &reqwest::Client, base: &str, id: usize| {
        c.put(format!("{base}/accountsapp/profile/{}", id % 1000 + 1))
            .json(&json!({"headline": format!("rtt {id}")}))
    };
    let logout = |c: &reqwest::Client, base: &str, id: usize| {
        c.post(format!("{base}/accountsapp/logout/{}", id % 1000 + 1))
    };
    let cold = first..first + n;
    let cold_whoami = demo_row(
        proxy,
        &client,
        urls,
        "cold /accountsapp/whoami/{id}",
        latency_ms,
        whoami,
        cold.clone(),
    )
    .await?;
    absorb_echo(&client, urls.0, whoami, cold.clone()).await?;
    Ok(vec![
        cold_whoami,
        demo_row(
            proxy,
            &client,
            urls,
            "warm /accountsapp/whoami/{id} (L1 hit)",
            latency_ms,
            whoami,
            cold.clone(),
        )
        .await?,
        demo_row(
            proxy,
            &client,
            urls,
            "cold /jobs/{id}",
            latency_ms,
            job,
            cold.clone(),
        )
        .await?,
        demo_row(
            proxy,
            &client,
            urls,
            "PUT /accountsapp/profile/{id}",
            latency_ms,
            profile,
            cold.clone(),
        )
        .await?,
        demo_row(
            proxy,
            &client,
            urls,
            "POST /accountsapp/logout/{id}",
            latency_ms,
            logout,
            cold,
        )
        .await?,
    ])
}

/// Runs the group: `{"facade": [...], "demo": [...]}`.
pub(crate) fn run(quick: bool) -> Result<Value> {
    crate::demo_process::build_for_bench()?;
    let n = if quick { 60 } else { 200 };
    let server = RedisServer::spawn().context("starting redis-server")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let proxy = rt.block_on(RoundTripProxy::start(server.port()))?;
    let dir = tempfile::tempdir()?;
    let demo = DemoProcess::start(&[], &demo_env(dir.path(), Some(&proxy.url())))?;
    let no_cache = DemoProcess::start(&["--no-cache"], &demo_env(dir.path(), None))?;
    let mut facade = Vec::new();
    let mut demo_out = Vec::new();
    for (k, latency_ms) in LATENCIES_MS.iter().enumerate() {
        proxy.set_latency(Duration::from_secs_f64(latency_ms / 1e3));
        println!("== rtt at +{latency_ms} ms per round trip");
        facade.extend(rt.block_on(facade_rows(&proxy, *latency_ms, n))?);
        demo_out.extend(rt.block_on(demo_rows(
            &proxy,
            (&demo.url, &no_cache.url),
            *latency_ms,
            n / 2,
            k * 400,
        ))?);
    }
    for r in facade.iter().chain(&demo_out) {
        println!(
            "+{} ms  {:<45} {:>5.2} round trips  p50 {:>7.2} ms",
            r["latency_ms"],
            r["what"].as_str().unwrap_or("?"),
            r["round_trips"].as_f64().unwrap_or(0.0),
            r["p50_ms"].as_f64().unwrap_or(0.0)
        );
    }
    Ok(json!({"facade": facade, "demo": demo_out}))
}
