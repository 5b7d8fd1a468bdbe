//! `serve` under hostile connections: half-open and idle connections are closed after the
//! header read timeout, the connection cap holds, and shutdown ends by its deadline.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use strata_http::{ServeLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: ServeLimits) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", get(|| async { "hello" })).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late"
        }),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

/// One request on a fresh connection; the response's status line.
async fn request(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.lines().next().unwrap_or_default().to_owned()
}

/// Whether the server closed `s` (EOF or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {} // a response (408, or the previous one): keep reading
        }
    }
}

#[tokio::test]
async fn half_open_connections_are_closed_after_the_header_timeout() {
    let server =
        start(ServeLimits::default().with_header_read_timeout(Duration::from_millis(300))).await;
    let mut half_open = Vec::new();
    for i in 0..50 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET / HT").await.unwrap(); // half a request line
        } // and the others send nothing
        half_open.push(s);
    }
    // Legitimate requests are served meanwhile.
    assert_eq!(request(server.addr).await, "HTTP/1.1 200 OK");
    for (i, s) in half_open.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "connection {i} was not closed"
        );
    }
}

#[tokio::test]
async fn idle_kept_alive_connections_are_closed_too() {
    let server =
        start(ServeLimits::default().with_header_read_timeout(Duration::from_millis(300))).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK"));
    // Kept alive, then idle: closed by the same timer.
    assert!(closed_within(&mut s, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn the_connection_cap_holds() {
    let server = start(
        ServeLimits::default()
            .with_max_connections(2)
            .with_header_read_timeout(Duration::from_secs(30)),
    )
    .await;
    let held = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    // Give the server the time to accept both (it cannot accept a third).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = tokio::spawn(request(server.addr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served past the cap"
    );
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn shutdown_ends_by_its_deadline_despite_stuck_connections() {
    let mut server = start(
        ServeLimits::default()
            .with_header_read_timeout(Duration::from_secs(60))
            .with_shutdown_deadline(Duration::from_millis(500)),
    )
    .await;
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck.write_all(b"GET / HT").await.unwrap();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let idle = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.stop.take().unwrap().send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), &mut server.task).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "serve did not return by its deadline: {ended:?}"
    );
    // Its connections are gone and nothing listens any more.
    assert!(closed_within(&mut stuck, Duration::from_secs(5)).await);
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await);
    drop(idle);
    assert!(TcpStream::connect(server.addr).await.is_err());
}
