//! The `strata` command: look into and manage a Strata cache on Redis.
//!
//! `strata --redis URL --prefix P <health | stats | keys | inspect KEY | clear>`; `REDIS_URL`
//! and `STRATA_PREFIX` are read when the flags are absent. Errors are one line on stderr and a
//! non-zero exit status.

mod commands;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Look into and manage a Strata cache.
#[derive(Parser, Debug)]
#[command(name = "strata", version, about)]
pub(crate) struct Cli {
    /// Redis URL (`redis://[user:password@]host:port/db`).
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    redis: Option<String>,
    /// The URL names seed nodes of a Redis Cluster (comma-separated).
    #[arg(long, env = "STRATA_BACKEND__CLUSTER", global = true)]
    cluster: bool,
    /// Key prefix of the cache.
    #[arg(long, env = "STRATA_PREFIX", default_value = "strata", global = true)]
    prefix: String,
    /// App version of the keys (for `clear --kind`).
    #[arg(long, env = "STRATA_APP_VERSION", default_value = "v1", global = true)]
    app_version: String,
    /// Limit on each Redis operation.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Ping Redis: reachability, round trip, server version, memory policy.
    Health,
    /// Server memory and keys, and this prefix's keys and bytes per kind (sampled).
    Stats {
        /// Keys to sample.
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
    },
    /// List keys of the prefix, or of one kind.
    Keys {
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many keys.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Decode one entry: metadata (age, TTL, schema, size, compression) and the value as JSON.
    Inspect {
        /// The full key, e.g. shop:v1:user:s2:42.
        key: String,
    },
    /// Remove entries: one kind, or everything under the prefix.
    Clear {
        /// The kind to clear.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        kind: Option<String>,
        /// Everything under the prefix.
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
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
