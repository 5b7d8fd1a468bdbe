//! Coalesced reads (`RedisConfig::coalesce_reads`): reads issued in the same tick share one
//! `MGET` and one round trip; each gets its own answer, or an error of its own; a read issued
//! after a batch was sent never shares that batch's answer.
//!
//! The tests run on a current-thread runtime: the reads joined in one task are all issued
//! before the task that sends them runs, so the batches are deterministic.

use std::time::Duration;

use futures::future::join_all;
use strata_backend::{Backend, ErrorKind};
use strata_redis::{RedisBackend, RedisConfig};
use strata_testkit::{RedisServer, RoundTripProxy};

const HOUR: Duration = Duration::from_secs(3600);
const N: usize = 16;

fn config(url: String, coalesce: bool) -> RedisConfig {
    RedisConfig::new(url)
        .with_namespace("co:")
        .with_operation_timeout(Duration::from_millis(500))
        .with_coalesce_reads(coalesce)
}

pub(crate) async fn direct(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    direct_url(&server.url()).await
}

/// A connection of its own to `url`, past the backend.
pub(crate) async fn direct_url(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Calls of `command` the server has run since the last reset (`INFO commandstats`).
pub(crate) async fn calls(conn: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

pub(crate) async fn reset_stats(conn: &mut redis::aio::MultiplexedConnection) {
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(conn)
        .await
        .unwrap();
}

fn key(i: usize) -> String {
    format!("co:v1:user:s1:{i}")
}

#[tokio::test]
async fn reads_issued_in_one_tick_cost_one_mget_and_one_round_trip() {
    let Some(server) = strata_testkit::redis_or_skip("coalesced reads") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let mut admin = direct(&server).await;
    for coalesce in [true, false] {
        let b = RedisBackend::connect(config(proxy.url(), coalesce))
            .await
            .unwrap();
        for i in 0..N {
            b.set(&key(i), format!("v{i}").into_bytes().into(), HOUR)
                .await
                .unwrap();
        }
        reset_stats(&mut admin).await;
        proxy.reset();
        let keys: Vec<String> = (0..N + 1).map(key).collect();
        let got = join_all(keys.iter().map(|k| b.get(k))).await;
        for (i, v) in got.into_iter().enumerate() {
            let want = (i < N).then(|| format!("v{i}").into_bytes());
            assert_eq!(v.unwrap().map(|b| b.to_vec()), want, "key {i}");
        }
        let (mget, get) = (
            calls(&mut admin, "mget").await,
            calls(&mut admin, "get").await,
        );
        if coalesce {
            assert_eq!(proxy.round_trips(), 1);
            assert_eq!((mget, get), (1, 0), "one MGET for {} reads", N + 1);
        } else {
            assert_eq!((mget, get), (0, N as u64 + 1), "a GET per read");
        }
    }
}

#[tokio::test]
async fn a_lone_read_is_a_plain_get() {
    let Some(server) = strata_testkit::redis_or_skip("a lone coalesced read") else {
        return;
    };
    let mut admin = direct(&server).await;
    let b = RedisBackend::connect(config(server.url(), true))
        .await
        .unwrap();
    b.set(&key(1), "one".into(), HOUR).await.unwrap();
    reset_stats(&mut admin).await;
    assert_eq!(b.get(&key(1)).await.unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(b.get(&key(2)).await.unwrap(), None);
    let (mget, get) = (
        calls(&mut admin, "mget").await,
        calls(&mut admin, "get").await,
    );
    assert_eq!((mget, get), (0, 2));
}

#[tokio::test]
async fn a_timed_out_batch_fails_each_of_its_reads_then_the_next_one_answers() {
    let Some(server) = strata_testkit::redis_or_skip("a coalesced batch times out") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let b = RedisBackend::connect(
        config(proxy.url(), true).with_operation_timeout(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    b.set(&key(0), "zero".into(), HOUR).await.unwrap();
    proxy.set_latency(Duration::from_millis(400));
    let keys: Vec<String> = (0..N).map(key).collect();
    let got = join_all(keys.iter().map(|k| b.get(k))).await;
    for (i, r) in got.into_iter().enumerate() {
        let e = r.expect_err("a read of a batch that timed out");
        assert_eq!(e.kind(), ErrorKind::Timeout, "read {i}: {e}");
    }
    proxy.set_latency(Duration::ZERO);
    // The stuck connection was replaced: the next batch answers (a new connection on a busy
    // machine may take a moment).
    let mut answer = b.get(&key(0)).await;
    for _ in 0..20 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = b.get(&key(0)).await;
    }
    assert_eq!(answer.unwrap().as_deref(), Some(&b"zero"[..]));
}

#[tokio::test]
async fn a_failed_batch_fails_each_of_its_reads_with_a_connection_error() {
    let Some(mut server) = strata_testkit::redis_or_skip("a coalesced batch fails") else {
        return;
    };
    let b = RedisBackend::connect(config(server.url(), true).with_reconnect_retries(0))
        .await
        .unwrap();
    b.set(&key(0), "zero".into(), HOUR).await.unwrap();
    server.stop();
    let keys: Vec<String> = (0..N).map(key).collect();
    let got = join_all(keys.iter().map(|k| b.get(k))).await;
    for (i, r) in got.into_iter().enumerate() {
        let e = r.expect_err("a read of a failed batch");
        assert!(
            matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout),
            "read {i}: {e}"
        );
        assert!(e.is_transient(), "read {i}: {e}");
    }
}

/// A read issued while a batch is on its way goes in a batch of its own, sent after the read
/// was issued: it sees a write that landed before it, and is a command of its own (pipelined
/// behind the first on the connection: batches do not wait for each other).
#[tokio::test]
async fn a_read_never_shares_a_batch_sent_before_it() {
    let Some(server) = strata_testkit::redis_or_skip("no read joins a sent batch") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let mut admin = direct(&server).await;
    let b = RedisBackend::connect(config(proxy.url(), true))
        .await
        .unwrap();
    b.set(&key(0), "old".into(), HOUR).await.unwrap();
    proxy.set_latency(Duration::from_millis(200));
    proxy.reset();
    reset_stats(&mut admin).await;
    let first = tokio::spawn({
        let b = b.clone();
        async move { b.get(&key(0)).await }
    });
    // The first read is sent (it waits in the proxy).
    while proxy.round_trips() == 0 {
        tokio::task::yield_now().await;
    }
    let _: () = redis::cmd("SET")
        .arg(key(0))
        .arg("new")
        .query_async(&mut admin)
        .await
        .unwrap();
    let second = b.get(&key(0)).await.unwrap();
    assert!(first.await.unwrap().is_ok());
    assert_eq!(second.as_deref(), Some(&b"new"[..]));
    let (mget, get) = (
        calls(&mut admin, "mget").await,
        calls(&mut admin, "get").await,
    );
    assert_eq!((mget, get), (0, 2), "the second read went on its own");
}
