//! The Payshift demo service: the cached endpoints of a Django platform on a real database
//! (SQLite by default, Postgres by URL), served through Strata.
//!
//! `cargo run --release -p payshift` — no services to install: an SQLite file and the embedded
//! memory backend. `REDIS_URL` switches to Redis, `DATABASE_URL` to another database,
//! `--no-cache` runs the same app with caching off for comparison, `--warm` warms the cache
//! before it reports ready.

mod bench_routes;
mod db;
mod error;
mod handles;
mod models;
mod routes;
mod warm;

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use rand::RngExt;
use strata::CacheBuilder;
use strata_http::monitoring::{MonitoringConfig, mount, router};

/// Payshift: users, profiles, jobs and applications, cached with Strata.
#[derive(Parser, Debug)]
#[command(name = "payshift", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "PAYSHIFT_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Database URL: sqlite://file.db or postgres://...
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://payshift.db",
        hide_env_values = true
    )]
    database_url: String,
    /// Serve everything straight from the database (for comparison): the same cache with
    /// caching off, so loaders answer every read and nothing is stored.
    #[arg(long, env = "PAYSHIFT_NO_CACHE")]
    no_cache: bool,
    /// Size of the seed data relative to the default (1,000 users, 2,000 jobs, ...).
    #[arg(long, default_value_t = 1.0)]
    seed_scale: f64,
    /// Seconds a client has to send a request's headers (also the idle keep-alive time).
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// Connections served at once; more wait in the accept queue.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Warm the cache before reporting ready: the hot set other instances recorded, the
    /// industries and subcategories lists, and the most recent jobs (`--warm-jobs`).
    #[arg(long, env = "PAYSHIFT_WARM")]
    warm: bool,
    /// How many of the most recent jobs `--warm` loads.
    #[arg(long, env = "PAYSHIFT_WARM_JOBS", default_value_t = 200)]
    warm_jobs: usize,
    /// Also serve the routes the end-to-end bench compares with: `/strata-bench/body/{bytes}`,
    /// a static JSON body of that size (no cache, no database).
    #[arg(long, env = "PAYSHIFT_BENCH_ROUTES")]
    bench_routes: bool,
    /// Seconds a shutdown waits for requests in flight.
    #[arg(long, default_value_t = 10.0)]
    shutdown_deadline: f64,
}

impl Args {
    fn limits(&self) -> anyhow::Result<strata_http::ServeLimits> {
        let secs = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 3600.0 {
                Ok(std::time::Duration::from_secs_f64(v))
            } else {
                Err(anyhow::anyhow!(
                    "--{name} must be in (0, 3600] seconds, got {v}"
                ))
            }
        };
        if self.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1");
        }
        Ok(strata_http::ServeLimits::default()
            .with_header_read_timeout(secs("header-timeout", self.header_timeout)?)
            .with_max_connections(self.max_connections)
            .with_shutdown_deadline(secs("shutdown-deadline", self.shutdown_deadline)?))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payshift: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    init_logging();
    if !(args.seed_scale > 0.0 && args.seed_scale <= 100.0) {
        anyhow::bail!("--seed-scale must be in (0, 100], got {}", args.seed_scale);
    }
    let limits = args.limits()?;
    let db = db::Db::connect(&args.database_url)
        .await
        .with_context(|| format!("cannot open the database ({})", redact(&args.database_url)))?;
    let seeded = db
        .seed_if_empty(args.seed_scale)
        .await
        .context("seeding the database")?;
    let counts = db.counts().await.map_err(|e| anyhow::anyhow!("{e}"))?;

    let metrics = strata_http::metrics::install_prometheus().ok();
    let alljobs = routes::alljobs_kind()?;
    let (cache, token) = build_cache(&args, &alljobs).await?;
    // Lives as long as the process (see `routes::AppState`).
    let state: routes::AppState = Box::leak(Box::new(routes::App {
        db: db.clone(),
        cache: cache.clone(),
        kinds: handles::Kinds::of(&cache)?,
        rules: routes::rules(&alljobs),
        alljobs,
    }));
    routes::relate(&cache)?;
    warm::register_loaders(&state)?;
    if args.warm && !args.no_cache {
        warm::warm(&state, args.warm_jobs).await?;
    }
    let mut app = mount(
        routes::app(state),
        "/core/monitoring",
        router(cache.clone(), MonitoringConfig::from_cache(&cache)),
    );
    if args.bench_routes {
        app = app.merge(bench_routes::routes());
    }
    if let Some(handle) = metrics {
        app = app.merge(strata_http::metrics::metrics_router_for(
            handle,
            cache.clone(),
        ));
    }

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    println!("payshift listening on http://{addr}");
    println!(
        "database: {} ({}; {} users, {} industries, {} subcategories, {} jobs, {} applications{})",
        redact(&args.database_url),
        db.dialect(),
        counts.users,
        counts.industries,
        counts.subcategories,
        counts.jobs,
        counts.applications,
        if seeded { ", just seeded" } else { "" }
    );
    println!("cache: {}", describe_cache(&cache, args.no_cache));
    print_access(addr, &token);
    strata_http::serve(listener, app, limits, shutdown()).await?;
    println!("payshift stopped");
    Ok(())
}

/// RUST_LOG chooses what is logged (default: warnings, and this service's info lines).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,payshift=info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// The admin token: the configuration's, or one made up for this run (then printed).
enum AdminToken {
    Configured,
    Generated(String),
}

/// The cache from `strata.toml` and the environment, with the demo's kinds declared, the
/// prefix `payshift` unless one is configured, and an admin token. `--no-cache` builds it
/// with caching off: the loaders answer every read and nothing is stored.
async fn build_cache(
    args: &Args,
    alljobs: &strata::ResponseKind,
) -> anyhow::Result<(strata::Cache, AdminToken)> {
    let mut config = strata::CacheConfig::load()?;
    if args.no_cache {
        config.enabled = false;
    }
    let mut builder = routes::declare(CacheBuilder::from_config(config), alljobs);
    if builder.config().prefix == strata::CacheConfig::default().prefix {
        builder = builder.prefix("payshift");
    }
    let mut token = AdminToken::Configured;
    if builder.config().admin_token.is_none() {
        let generated: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        builder = builder.admin_token(generated.clone());
        token = AdminToken::Generated(generated);
    }
    Ok((builder.build().await?, token))
}

/// The admin token and the dashboard's address. A token someone chose (STRATA_ADMIN_TOKEN,
/// strata.toml) is theirs to know: never printed.
fn print_access(addr: SocketAddr, token: &AdminToken) {
    match token {
        AdminToken::Generated(token) => {
            println!("admin token: {token} (random; set STRATA_ADMIN_TOKEN to choose it)");
            println!("dashboard: http://{addr}/core/monitoring/#token={token}");
        }
        AdminToken::Configured => {
            println!("admin token: from the configuration (not printed)");
            println!("dashboard: http://{addr}/core/monitoring/");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// What the cache is, as the start banner says it: the backend, the L1 only when it is on,
/// the key prefix, and whether caching is off.
fn describe_cache(cache: &strata::Cache, no_cache: bool) -> String {
    let backend = match &cache.admin().config().backend.url {
        Some(url) => format!("redis at {}", redact(url)),
        None => "embedded memory backend".to_owned(),
    };
    let l1 = if cache.admin().l1().is_some() {
        " + in-process L1"
    } else {
        ", no in-process L1"
    };
    let prefix = &cache.admin().config().prefix;
    let off = match (cache.enabled(), no_cache) {
        (true, _) => "",
        (false, true) => ", caching off (--no-cache)",
        (false, false) => ", caching off (enabled = false)",
    };
    format!("{backend}{l1}, prefix {prefix}{off}")
}

/// A URL with its password hidden.
fn redact(url: &str) -> String {
    strata::redact_url(url)
}
