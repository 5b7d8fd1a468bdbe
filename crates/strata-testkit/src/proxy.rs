//! `RoundTripProxy`: a loopback TCP proxy that counts client round trips and can add latency.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// What the proxy has seen, shared by its connections.
#[derive(Debug, Default)]
struct Counters {
    round_trips: AtomicU64,
    heartbeats: AtomicU64,
    connections: AtomicU64,
    /// Added to every client-to-server chunk, in microseconds.
    latency_us: AtomicU64,
}

/// A TCP proxy on a free loopback port in front of one server (a `redis-server`, say).
///
/// It counts **round trips**: a burst of bytes from a client, on one connection, with no reply
/// from the server in between, is one round trip, however many reads or commands it spans (a
/// pipeline is one; a command, its reply, then a second command are two). It can also delay
/// every client-to-server chunk by a fixed latency, so that a loopback test sees what a network
/// round trip costs in production (0.3–1 ms) without reordering anything.
///
/// Connections are proxied by tasks on the runtime that started the proxy; dropping the proxy
/// closes them all.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// use strata_testkit::{RedisServer, RoundTripProxy};
///
/// let server = RedisServer::spawn()?;
/// let proxy = RoundTripProxy::start(server.port()).await?;
/// proxy.set_latency(Duration::from_millis(1));
/// // ... connect a client to proxy.url(), then:
/// proxy.reset();
/// // ... one operation ...
/// assert!(proxy.round_trips() <= 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RoundTripProxy {
    addr: SocketAddr,
    target: SocketAddr,
    counters: Arc<Counters>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl RoundTripProxy {
    /// Starts a proxy to the server on `127.0.0.1:{target_port}`.
    pub async fn start(target_port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let target = SocketAddr::from(([127, 0, 0, 1], target_port));
        let counters = Arc::new(Counters::default());
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            counters.clone(),
            tasks.clone(),
        ));
        tasks.lock().push(accept.abort_handle());
        Ok(Self {
            addr,
            target,
            counters,
            tasks,
        })
    }

    /// `redis://` URL of the server behind the proxy (for connections that must not be
    /// counted or delayed, such as a cache's coherence channels).
    pub fn target_url(&self) -> String {
        format!("redis://{}", self.target)
    }

    /// Heartbeats seen: bursts that were a lone `PING`, not counted in
    /// [`round_trips`](Self::round_trips).
    pub fn heartbeats(&self) -> u64 {
        self.counters.heartbeats.load(Ordering::SeqCst)
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `redis://127.0.0.1:{port}`: the URL a Redis client uses to go through the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Client round trips since the start or the last [`reset`](Self::reset), over every
    /// connection.
    pub fn round_trips(&self) -> u64 {
        self.counters.round_trips.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Sets the round-trip counter back to zero.
    pub fn reset(&self) {
        self.counters.round_trips.store(0, Ordering::SeqCst);
    }

    /// Delays every client-to-server chunk by `latency` from now on (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counters.latency_us.store(us, Ordering::SeqCst);
    }
}

impl Drop for RoundTripProxy {
    fn drop(&mut self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    counters: Arc<Counters>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let Ok(server) = TcpStream::connect(target).await else {
            // The server is down: the client sees its connection closed, as it would.
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        // Set while a client burst awaits its reply: the next client bytes after a reply start
        // a new round trip.
        let in_burst = Arc::new(AtomicBool::new(false));
        let (queue, queued) = mpsc::unbounded_channel();
        let up = tokio::spawn(client_to_proxy(
            client_read,
            queue,
            counters.clone(),
            in_burst.clone(),
        ));
        let forward = tokio::spawn(proxy_to_server(queued, server_write));
        let down = tokio::spawn(server_to_client(server_read, client_write, in_burst));
        let mut tasks = tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.extend([
            up.abort_handle(),
            forward.abort_handle(),
            down.abort_handle(),
        ]);
    }
}

/// Reads the client, counting bursts, and queues each chunk with the time it may be forwarded.
async fn client_to_proxy(
    mut from: OwnedReadHalf,
    queue: mpsc::UnboundedSender<(Instant, Vec<u8>)>,
    counters: Arc<Counters>,
    in_burst: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !in_burst.swap(true, Ordering::SeqCst) {
            // A lone PING opening a burst is a heartbeat (a cache's coherence channels send
            // them on their own connections), not an operation's round trip.
            if buf[..n].eq_ignore_ascii_case(b"*1\r\n$4\r\nPING\r\n") {
                counters.heartbeats.fetch_add(1, Ordering::SeqCst);
            } else {
                counters.round_trips.fetch_add(1, Ordering::SeqCst);
            }
        }
        let delay = Duration::from_micros(counters.latency_us.load(Ordering::SeqCst));
        if queue
            .send((Instant::now() + delay, buf[..n].to_vec()))
            .is_err()
        {
            return;
        }
    }
}

/// Writes queued chunks to the server once their delay has passed (in order).
async fn proxy_to_server(
    mut queued: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
    mut to: OwnedWriteHalf,
) {
    while let Some((at, chunk)) = queued.recv().await {
        wait_until(at).await;
        if to.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}

/// Waits until `at` precisely: tokio's timer fires on millisecond ticks (a 0.5 ms delay would
/// become 1 to 2 ms), so the last millisecond is spent yielding.
async fn wait_until(at: Instant) {
    let tick = Duration::from_millis(1);
    if let Some(early) = at.checked_sub(tick)
        && early > Instant::now()
    {
        tokio::time::sleep_until(early).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

/// Relays the server's replies; a reply ends the client's burst.
async fn server_to_client(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    in_burst: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Before the write: the client can only answer a reply it has received.
        in_burst.store(false, Ordering::SeqCst);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
