//! Shared helpers: serve a router on a free loopback port; run a test in a process of its own.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

/// Serves `app` on 127.0.0.1 (free port) in the background; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

pub use strata_testkit::in_own_process;
