//! `serve`: an HTTP/1 server for an axum app whose every resource has a bound: connections,
//! time to send a request's headers, idle keep-alive time, and time to shut down.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The bounds [`serve`] holds under hostile traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeLimits {
    /// Time a client has to send a request's headers, from the connection's start or the end
    /// of the previous response (default 10 s). Connections that send half a request line, or
    /// nothing, are closed after it.
    pub header_read_timeout: Duration,
    /// Connections served at once (default 1,024). Beyond it, new connections wait in the
    /// kernel's accept queue until one closes.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight before closing their connections
    /// (default 10 s).
    pub shutdown_deadline: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

impl ServeLimits {
    /// These limits with another header read timeout.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// These limits with another connection cap (at least 1).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// These limits with another shutdown deadline.
    pub fn with_shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, within `limits`: at most
/// `max_connections` at once; a connection that does not send a request's headers within
/// `header_read_timeout` (when it opens, and between requests on a kept-alive connection) is
/// closed; on shutdown no new connection is accepted, idle ones close at once, requests in
/// flight get `shutdown_deadline` to finish, and what is left is then dropped.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let limits = strata_http::ServeLimits::default();
/// strata_http::serve(listener, app, limits, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A permit first: at the cap, connections wait in the accept queue, not in memory.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.map_err(io::Error::other)?,
        };
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
        // Reap finished connections so the set stays as small as what is open.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            deadline = ?limits.shutdown_deadline,
            "requests still in flight at the shutdown deadline: their connections are closed"
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}
