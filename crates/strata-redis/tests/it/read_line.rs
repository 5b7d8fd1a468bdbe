//! The read line (`Backend::get` on a pipelined connection of its own, one server): what a
//! killed connection, a stopped server, a server error, a password, a database index,
//! coalescing and large replies do to reads. Counts and error kinds are asserted, never
//! timings: the operation timeout is long enough that no read here times out on a loaded
//! machine, so a failure is the fault's, not the clock's.
//!
//! The connection of the read line is told from the backend's other connections (redis-rs) by
//! its last command in `CLIENT LIST`: `get` or `mget`.

use std::time::Duration;

use futures::future::join_all;
use strata_backend::{Backend, BackendResult, ErrorKind};
use strata_redis::{RedisBackend, RedisConfig};
use strata_testkit::RoundTripProxy;

use crate::coalesce::{calls, direct, direct_url, reset_stats};

mod replaced;

type Admin = redis::aio::MultiplexedConnection;

const HOUR: Duration = Duration::from_secs(3600);
const PATIENT: Duration = Duration::from_secs(30);

fn config(url: String) -> RedisConfig {
    RedisConfig::new(url)
        .with_namespace("rl:")
        .with_operation_timeout(PATIENT)
        .with_connect_timeout(PATIENT)
}

fn key(i: usize) -> String {
    format!("rl:v1:user:s1:{i}")
}

/// A read's value as text (the values of these tests are text, but for the large ones).
fn text(read: BackendResult<Option<bytes::Bytes>>) -> Option<String> {
    read.unwrap()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

/// A field of a `CLIENT LIST` line.
fn field(line: &str, name: &str) -> String {
    line.split(' ')
        .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_default()
        .to_owned()
}

/// The `CLIENT LIST` lines of the server's clients whose last command was a read of the line.
async fn read_line_client_lines(admin: &mut Admin) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(admin)
        .await
        .unwrap();
    list.lines()
        .filter(|l| matches!(field(l, "cmd").as_str(), "get" | "mget"))
        .map(str::to_owned)
        .collect()
}

/// The ids of those clients.
async fn read_line_clients(admin: &mut Admin) -> Vec<u64> {
    let lines = read_line_client_lines(admin).await;
    lines
        .iter()
        .map(|l| field(l, "id").parse().unwrap())
        .collect()
}

async fn kill(admin: &mut Admin, id: u64) {
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(admin)
        .await
        .unwrap();
    assert_eq!(killed, 1, "client {id} killed");
}

async fn raw_set(conn: &mut Admin, key: &str, value: &str) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_killed_idle_connection_fails_at_most_the_next_read_then_reads_reconnect() {
    let Some(server) = strata_testkit::redis_or_skip("read line: a killed connection") else {
        return;
    };
    let mut admin = direct(&server).await;
    let b = RedisBackend::connect(config(server.url())).await.unwrap();
    b.set(&key(0), "zero".into(), HOUR).await.unwrap();
    assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("zero"));
    let first = read_line_clients(&mut admin).await;
    assert_eq!(first.len(), 1, "one connection reads: {first:?}");
    kill(&mut admin, first[0]).await;
    for i in 0..10 {
        match b.get(&key(0)).await {
            Ok(v) => assert_eq!(v.as_deref(), Some(&b"zero"[..]), "read {i}"),
            // The read written before the line saw the connection close.
            Err(e) if i == 0 => assert_eq!(e.kind(), ErrorKind::Connection, "{e}"),
            Err(e) => panic!("read {i} after the kill failed: {e}"),
        }
    }
    let now = read_line_clients(&mut admin).await;
    assert_eq!(now.len(), 1, "one connection reads again: {now:?}");
    assert_ne!(now, first, "on a new connection");
}

/// Reads waiting for their reply (held in a proxy) when their connection is killed fail with a
/// connection error, at once and together; the next reads answer on one new connection.
#[tokio::test]
async fn reads_in_flight_on_a_killed_connection_fail_with_a_connection_error() {
    let Some(server) = strata_testkit::redis_or_skip("read line: reads in flight killed") else {
        return;
    };
    const N: usize = 8;
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let mut admin = direct(&server).await;
    let b = RedisBackend::connect(config(proxy.url())).await.unwrap();
    for i in 0..N {
        b.set(&key(i), format!("v{i}").into_bytes().into(), HOUR)
            .await
            .unwrap();
    }
    assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("v0"));
    let line = read_line_clients(&mut admin).await;
    assert_eq!(line.len(), 1, "{line:?}");
    let before = proxy.connections();
    // Far longer than the kill takes: the reads are in flight when it lands.
    proxy.set_latency(Duration::from_secs(20));
    proxy.reset();
    let reads = tokio::spawn({
        let b = b.clone();
        async move {
            let b = &b;
            join_all((0..N).map(|i| async move { b.get(&key(i)).await })).await
        }
    });
    while proxy.round_trips() == 0 {
        tokio::task::yield_now().await;
    }
    kill(&mut admin, line[0]).await;
    proxy.set_latency(Duration::ZERO);
    for (i, r) in reads.await.unwrap().into_iter().enumerate() {
        let e = r.expect_err("a read in flight on a killed connection");
        assert_eq!(e.kind(), ErrorKind::Connection, "read {i}: {e}");
        assert!(e.is_transient(), "read {i}: {e}");
    }
    for i in 0..N {
        assert_eq!(
            text(b.get(&key(i)).await),
            Some(format!("v{i}")),
            "read {i} after"
        );
    }
    assert_eq!(proxy.connections(), before + 1, "one new connection");
}

#[tokio::test]
async fn a_stopped_server_fails_reads_with_a_connection_error_until_it_is_back() {
    let Some(mut server) = strata_testkit::redis_or_skip("read line: a stopped server") else {
        return;
    };
    let b = RedisBackend::connect(config(server.url())).await.unwrap();
    b.set(&key(0), "zero".into(), HOUR).await.unwrap();
    assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("zero"));
    server.stop();
    // The first reads see the connection lost or refused, the next ones the backoff's error.
    for i in 0..20 {
        let e = b.get(&key(0)).await.expect_err("the server is down");
        assert_eq!(e.kind(), ErrorKind::Connection, "read {i}: {e}");
        assert!(e.is_transient(), "read {i}: {e}");
    }
    server.restart().unwrap();
    // Until the backoff ends, reads still fail with the last connect's error.
    let mut answer = None;
    for _ in 0..400 {
        match b.get(&key(0)).await {
            Ok(v) => {
                answer = Some(v);
                break;
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::Connection, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(answer, Some(None), "the restarted (empty) server answers");
    raw_set(&mut direct(&server).await, &key(0), "again").await;
    assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("again"));
}

/// A `GET` of a list is refused (`WRONGTYPE`): that read fails with a server error; the reads
/// pipelined around it answer, and the connection stays.
#[tokio::test]
async fn a_server_error_fails_its_read_and_the_connection_stays() {
    let Some(server) = strata_testkit::redis_or_skip("read line: WRONGTYPE") else {
        return;
    };
    let mut admin = direct(&server).await;
    let _: () = redis::cmd("RPUSH")
        .arg(key(1))
        .arg("a list")
        .query_async(&mut admin)
        .await
        .unwrap();
    raw_set(&mut admin, &key(0), "zero").await;
    for coalesce in [true, false] {
        let b = RedisBackend::connect(config(server.url()).with_coalesce_reads(coalesce))
            .await
            .unwrap();
        assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("zero"));
        // The line's connection, among those of a backend of the previous round still closing.
        let before = read_line_clients(&mut admin).await;
        let e = b.get(&key(1)).await.expect_err("GET of a list");
        assert_eq!(e.kind(), ErrorKind::Server, "{e}");
        assert!(e.message().contains("WRONGTYPE"), "{e}");
        assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("zero"));
        if !coalesce {
            // Pipelined GETs: each reply answers its own read, the error its own.
            let got = join_all([0, 1, 2, 0].map(|i| {
                let b = &b;
                async move { b.get(&key(i)).await }
            }))
            .await;
            let kinds: Vec<_> = got
                .iter()
                .map(|r| r.as_ref().map_err(|e| e.kind()))
                .collect();
            let zero = Some(bytes::Bytes::from_static(b"zero"));
            assert_eq!(
                kinds,
                [Ok(&zero), Err(ErrorKind::Server), Ok(&None), Ok(&zero)],
                "coalesce: {coalesce}"
            );
        }
        let after = read_line_clients(&mut admin).await;
        assert!(
            !after.is_empty() && after.iter().all(|id| before.contains(id)),
            "no new connection: {before:?} then {after:?}"
        );
    }
}

/// On a server that requires a password, the line logs in with the URL's password, or user
/// and password (then selects the URL's database); a wrong password is a configuration error
/// that names the refusal (and not the password), and so is no password.
#[tokio::test]
async fn the_line_logs_in_and_a_refused_password_is_a_config_error() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "read line: a password",
        &["--requirepass", "right-password"],
    ) else {
        return;
    };
    let at = |auth: &str, db: u8| format!("redis://{auth}@127.0.0.1:{}/{db}", server.port());
    let mut admin = direct_url(&at(":right-password", 0)).await;
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "reader", "on", ">reader-password", "~*", "+@all"][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    raw_set(&mut admin, &key(0), "db 0").await;
    raw_set(
        &mut direct_url(&at(":right-password", 2)).await,
        &key(0),
        "db 2",
    )
    .await;
    for (url, want) in [
        (at(":right-password", 0), "db 0"),
        (at("reader:reader-password", 2), "db 2"),
    ] {
        let b = RedisBackend::connect(config(url)).await.unwrap();
        assert_eq!(text(b.get(&key(0)).await).as_deref(), Some(want));
    }
    // Lazily: redis-rs would refuse the password at connect; the read line refuses it too.
    for auth in [":wrong-password", "reader:wrong-password"] {
        let b = RedisBackend::connect_lazy(config(at(auth, 0))).unwrap();
        for _ in 0..2 {
            let e = b.get(&key(0)).await.expect_err("a wrong password");
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            let m = e.message();
            assert!(m.contains("AUTH") && m.contains("refused"), "{e}");
            assert!(m.contains("WRONGPASS"), "{e}");
            assert!(!m.contains("wrong-password"), "{e}");
        }
    }
    let b = RedisBackend::connect_lazy(config(server.url())).unwrap();
    let e = b.get(&key(0)).await.expect_err("no password");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("NOAUTH"), "{e}");
}

/// A URL's database index: the line reads that database, not database 0.
#[tokio::test]
async fn the_line_reads_the_database_of_the_url() {
    let Some(server) = strata_testkit::redis_or_skip("read line: a database index") else {
        return;
    };
    let url = format!("{}/3", server.url());
    let (mut db0, mut db3) = (direct(&server).await, direct_url(&url).await);
    let b = RedisBackend::connect(config(url)).await.unwrap();
    b.set(&key(0), "in 3".into(), HOUR).await.unwrap();
    assert_eq!(text(b.get(&key(0)).await).as_deref(), Some("in 3"));
    let in_0: bool = redis::cmd("EXISTS")
        .arg(key(0))
        .query_async(&mut db0)
        .await
        .unwrap();
    assert!(!in_0, "the value was written in database 3 only");
    // A key in both databases: the line reads database 3's.
    raw_set(&mut db0, &key(1), "db 0").await;
    raw_set(&mut db3, &key(1), "db 3").await;
    assert_eq!(text(b.get(&key(1)).await).as_deref(), Some("db 3"));
    let got = join_all((0..4).map(|i| {
        let b = &b;
        async move { text(b.get(&key(i % 2)).await) }
    }))
    .await;
    assert_eq!(
        got,
        ["in 3", "db 3", "in 3", "db 3"].map(|v| Some(v.to_owned()))
    );
    // A database the server does not have: the line's SELECT is refused.
    let lazy = RedisBackend::connect_lazy(config(format!("{}/99", server.url()))).unwrap();
    let e = lazy.get(&key(0)).await.expect_err("no database 99");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        e.message().contains("SELECT") && e.message().contains("refused"),
        "{e}"
    );
    assert!(e.message().contains("DB index is out of range"), "{e}");
}

/// Without coalescing, concurrent reads are a `GET` each, pipelined; with it (a current-thread
/// runtime: every read is issued before the batch is written), one `MGET`, a batch stopping at
/// 1,000 keys (the next read starts another).
#[tokio::test]
async fn concurrent_reads_are_a_get_each_or_one_mget_when_coalesced() {
    let Some(server) = strata_testkit::redis_or_skip("read line: GET or MGET") else {
        return;
    };
    const N: usize = 100;
    let mut admin = direct(&server).await;
    for i in 0..N {
        raw_set(&mut admin, &key(i), &format!("v{i}")).await;
    }
    // (coalesce, reads, then MGET and GET calls)
    for (coalesce, reads, want) in [
        (false, N + 1, (0, N as u64 + 1)),
        (true, N + 1, (1, 0)),
        (true, 1001, (1, 1)),
    ] {
        let b = RedisBackend::connect(config(server.url()).with_coalesce_reads(coalesce))
            .await
            .unwrap();
        reset_stats(&mut admin).await;
        let got = join_all((0..reads).map(|i| {
            let b = &b;
            async move { text(b.get(&key(i)).await) }
        }))
        .await;
        for (i, v) in got.into_iter().enumerate() {
            assert_eq!(v, (i < N).then(|| format!("v{i}")), "read {i} of {reads}");
        }
        let commands = (
            calls(&mut admin, "mget").await,
            calls(&mut admin, "get").await,
        );
        assert_eq!(
            commands, want,
            "(MGET, GET) of {reads} reads, coalesce: {coalesce}"
        );
    }
}

/// `len` bytes that differ from one seed to the next and along the value (a value read from
/// the wrong place of a reply does not match).
fn pattern(seed: usize, len: usize) -> Vec<u8> {
    let mut x = (seed as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A 3 MiB value, and 200 values of 20 KiB read together (with the 3 MiB one and a missing
/// key): replies that span many reads of the socket come back byte-exact.
#[tokio::test]
async fn large_values_come_back_byte_exact() {
    let Some(server) = strata_testkit::redis_or_skip("read line: large values") else {
        return;
    };
    const SMALL: usize = 200;
    let values: Vec<Vec<u8>> = (0..=SMALL)
        .map(|i| pattern(i, if i == 0 { 3 << 20 } else { 20 << 10 }))
        .collect();
    let b = RedisBackend::connect(config(server.url())).await.unwrap();
    for (i, v) in values.iter().enumerate() {
        b.set(&key(i), v.clone().into(), HOUR).await.unwrap();
    }
    for coalesce in [true, false] {
        let b = RedisBackend::connect(config(server.url()).with_coalesce_reads(coalesce))
            .await
            .unwrap();
        let big = b.get(&key(0)).await.unwrap().expect("the 3 MiB value");
        assert!(big == values[0], "3 MiB value: {} bytes back", big.len());
        let got = join_all((0..=SMALL + 1).map(|i| {
            let b = &b;
            async move { b.get(&key(i)).await.unwrap() }
        }))
        .await;
        for (i, v) in got.iter().enumerate() {
            let want = values.get(i).map(Vec::as_slice);
            assert!(
                v.as_deref() == want,
                "value {i} (coalesce: {coalesce}): {:?} bytes back, {:?} written",
                v.as_ref().map(|v| v.len()),
                want.map(<[u8]>::len)
            );
        }
    }
}

/// A `redis+unix://` URL: the line reads over the Unix socket.
#[cfg(unix)]
#[tokio::test]
async fn the_line_reads_over_a_unix_socket() {
    let path = std::env::temp_dir().join(format!("strata-read-line-{}.sock", std::process::id()));
    let socket = path.to_str().unwrap();
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "read line: a Unix socket",
        &["--unixsocket", socket, "--unixsocketperm", "700"],
    ) else {
        return;
    };
    let mut admin = direct(&server).await;
    let b = RedisBackend::connect(config(format!("redis+unix://{socket}")))
        .await
        .unwrap();
    b.set(&key(0), "zero".into(), HOUR).await.unwrap();
    let got = join_all([0, 1, 0].map(|i| {
        let b = &b;
        async move { text(b.get(&key(i)).await) }
    }))
    .await;
    assert_eq!(
        got,
        [Some("zero".to_owned()), None, Some("zero".to_owned())]
    );
    let line = read_line_client_lines(&mut admin).await;
    assert_eq!(line.len(), 1, "{line:?}");
    assert!(field(&line[0], "addr").starts_with(socket), "{line:?}");
    drop(server);
    let _ = std::fs::remove_file(&path);
}
