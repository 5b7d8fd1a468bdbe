//! The `strata` command: look into and manage a Strata cache on Redis.
//!
//! `strata [--config strata.toml] [--redis URL] [--prefix P] <health | stats | keys | inspect KEY
//! | clear | warm | server-policy>`. Settings come from the application's configuration (the file,
//! then `STRATA_*` and `REDIS_URL`), the flags over it. Errors are one line on stderr and a
//! non-zero exit status.

mod analytics;
mod clear;
mod commands;
mod inspect;
mod setup;
mod warm;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Look into and manage a Strata cache.
#[derive(Parser, Debug)]
#[command(name = "strata", version, about)]
pub(crate) struct Cli {
    /// The application's configuration file (default: strata.toml in the working directory,
    /// if it exists). `STRATA_*` variables and `REDIS_URL` apply over it, as in the app.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Redis URL (`redis://[user:password@]host:port/db`), over the configuration's
    /// (`[backend] url`, `REDIS_URL`).
    #[arg(long, global = true)]
    redis: Option<String>,
    /// The URL names seed nodes of a Redis Cluster (comma-separated).
    #[arg(long, global = true)]
    cluster: bool,
    /// Key prefix of the cache, over the configuration's (`prefix`, `STRATA_PREFIX`).
    #[arg(long, global = true)]
    prefix: Option<String>,
    /// App version of the keys, over the configuration's (`app_version`,
    /// `STRATA_APP_VERSION`).
    #[arg(long, global = true)]
    app_version: Option<String>,
    /// Limit on connecting and on each Redis operation.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Ping Redis: reachability, round trip, server version, memory policy.
    Health,
    /// Server memory and keys, and this prefix's keys and bytes per kind (sampled); with
    /// `--monitoring`, a running application's statistics and analytics instead (misses by
    /// cause, loader time saved, entry sizes and ages, the miss-ratio curve, hot keys).
    Stats {
        /// Keys to sample.
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
        /// The application's monitoring URL (where its router is mounted, e.g.
        /// http://app:8000/core/monitoring): read its `cache-stats/`.
        #[arg(long)]
        monitoring: Option<String>,
        /// The monitoring admin token (sent as a bearer token).
        #[arg(long, env = "STRATA_ADMIN_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// List keys of the prefix (the default backend's), or of one kind (in the backend it is
    /// routed to, `[kinds.<kind>] backend`).
    Keys {
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many keys.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Decode one entry: metadata (age, TTL, schema, size, compression) and the value as JSON
    /// (read in the backend its kind is routed to, if any).
    Inspect {
        /// The full key, e.g. shop:v1:user:s2:42.
        key: String,
    },
    /// Remove entries of one kind (its generation moves on, as the app's clear-cache route
    /// does, and running instances hear of it over the bus), or everything under the prefix
    /// (version counters, schema registries and load leases included).
    Clear {
        /// The kind to clear (an unknown kind is an error naming the known ones).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        kind: Option<String>,
        /// Everything under the prefix.
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Warm a kind of a running instance from a list of ids, through the loader it registered
    /// (`KindCache::register_loader`), over its monitoring router's `POST warm/`, with a
    /// progress bar.
    Warm {
        /// The instance's monitoring router, e.g. http://127.0.0.1:8000/core/monitoring.
        #[arg(long)]
        url: String,
        /// The admin token (default: the configuration's `admin_token`).
        #[arg(long, env = "STRATA_ADMIN_TOKEN")]
        token: Option<String>,
        /// The kind to warm.
        #[arg(long)]
        kind: String,
        /// A file of ids, one per line.
        #[arg(long)]
        ids_file: Option<PathBuf>,
        /// Ids per request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Loads at once on the instance (1 to 64).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Ids to warm.
        ids: Vec<String>,
    },
    /// Make the server enforce an eviction policy on every key (CONFIG SET maxmemory-policy:
    /// lru -> allkeys-lru, random -> allkeys-random, ttl -> volatile-ttl). Needs CONFIG rights.
    ServerPolicy {
        /// lru, random or ttl.
        policy: String,
        /// Also set maxmemory to this many bytes.
        #[arg(long)]
        maxmemory: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata: {e:#}");
            ExitCode::FAILURE
        }
    }
}
