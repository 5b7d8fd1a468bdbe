//! A fixed number of L2 hits from `concurrency` tasks, for instruction counts (callgrind) of
//! the facade's L2 read against raw redis-rs on a spawned server:
//!
//! ```text
//! cargo build --profile bench -p strata-benches --example l2_reads
//! valgrind --tool=callgrind target/release/examples/l2_reads facade 16 20000
//! ```
//!
//! Peers: `facade` (no L1, reads coalesced as configured by default), `facade-direct`
//! (coalescing off), `raw` (one `MultiplexedConnection`, `GET` + the same decode).
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Instant;

#[path = "../benches/shared/facade_users.rs"]
mod facade_users;
use facade_users::{facade_users, raw_get_user};

use strata_benches::runtime;

/// Keys read in turn (all present).
const KEYS: u64 = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let peer = args.first().map_or("facade", String::as_str).to_owned();
    let concurrency: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    let ops: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let server = strata_testkit::RedisServer::spawn().expect("redis-server");
    let rt = runtime();
    let (start, cpu0, server_used) = rt.block_on(async {
        let (cache, users) = facade_users(&server, peer != "facade-direct", KEYS).await;
        let keys: Arc<Vec<String>> = Arc::new(
            (0..KEYS)
                .map(|i| users.key(i).expect("key").to_string())
                .collect(),
        );
        let raw = redis::Client::open(server.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection");
        let mut admin = raw.clone();
        let server0 = server_cpu(&mut admin).await;
        let (start, cpu0) = (Instant::now(), own_cpu());
        let tasks: Vec<_> = (0..concurrency)
            .map(|t| {
                let (users, keys, mut conn, peer, cache) = (
                    users.clone(),
                    keys.clone(),
                    raw.clone(),
                    peer.clone(),
                    cache.clone(),
                );
                tokio::spawn(async move {
                    for n in 0..ops / concurrency {
                        let i = (t + n * concurrency) % KEYS;
                        if peer == "raw" {
                            raw_get_user(&mut conn, &keys[i as usize]).await;
                        } else {
                            if users.get(i).await.expect("get").is_none() {
                                panic!("miss: {:?}", cache.admin().stats().kinds["user"].l2);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let used = server_cpu(&mut admin).await - server0;
        print_commands(&mut admin).await;
        (start, cpu0, used)
    });
    let elapsed = start.elapsed();
    let cpu = own_cpu() - cpu0;
    let per_op = |s: f64| s * 1e6 / ops as f64;
    eprintln!(
        "{peer} c={concurrency}: {ops} reads in {elapsed:?} ({:.0}/s); CPU per read: client {:.2} µs, server {:.2} µs",
        ops as f64 / elapsed.as_secs_f64(),
        per_op(cpu),
        per_op(server_used),
    );
}

/// This process's CPU time so far (user + system), in seconds (`/proc/self/stat`).
fn own_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 (11 and 12 after the command), at 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

/// Prints the server's GET and MGET calls so far (reads per command).
async fn print_commands(conn: &mut redis::aio::MultiplexedConnection) {
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap_or_default();
    let calls = |command: &str| -> u64 {
        let prefix = format!("cmdstat_{command}:calls=");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    eprintln!(
        "server commands since the start: GET {}, MGET {}",
        calls("get"),
        calls("mget")
    );
}

/// The server's CPU time so far (`INFO cpu`: used_cpu_user + used_cpu_sys), in seconds.
async fn server_cpu(conn: &mut redis::aio::MultiplexedConnection) -> f64 {
    let text: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("used_cpu_user:")
                .or(l.strip_prefix("used_cpu_sys:"))
        })
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum()
}
