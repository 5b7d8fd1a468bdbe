//! The round-trip proxy counts bursts, not commands or reads, and adds latency.

use std::time::Duration;

use strata_testkit::RoundTripProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` and reads until `replies` complete RESP simple-string lines arrived.
async fn exchange(conn: &mut TcpStream, request: &[u8], replies: usize) {
    conn.write_all(request).await.unwrap();
    let mut seen = 0;
    let mut buf = [0u8; 256];
    while seen < replies {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        seen += buf[..n].iter().filter(|b| **b == b'\n').count();
    }
}

#[tokio::test]
async fn counts_each_burst_once_and_adds_latency() {
    let Some(server) = strata_testkit::redis_or_skip("proxy round trips") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();

    exchange(&mut conn, b"PING\r\n", 1).await;
    assert_eq!(proxy.round_trips(), 1);
    // A pipeline of three commands is one round trip.
    exchange(&mut conn, b"PING\r\nPING\r\nPING\r\n", 3).await;
    assert_eq!(proxy.round_trips(), 2);
    // A request written in pieces before the reply is still one.
    conn.write_all(b"PI").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    exchange(&mut conn, b"NG\r\n", 1).await;
    assert_eq!(proxy.round_trips(), 3);

    proxy.reset();
    proxy.set_latency(Duration::from_millis(30));
    let start = std::time::Instant::now();
    exchange(&mut conn, b"PING\r\n", 1).await;
    exchange(&mut conn, b"PING\r\n", 1).await;
    assert!(
        start.elapsed() >= Duration::from_millis(60),
        "each round trip waits the added latency at least"
    );
    assert_eq!(proxy.round_trips(), 2);
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test]
async fn connections_close_with_the_proxy() {
    let Some(server) = strata_testkit::redis_or_skip("proxy close") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();
    exchange(&mut conn, b"PING\r\n", 1).await;
    drop(proxy);
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = conn.write_all(b"PING\r\n").await;
        conn.read(&mut buf).await.unwrap_or(0)
    })
    .await
    .expect("the connection closes");
    assert_eq!(n, 0);
}
