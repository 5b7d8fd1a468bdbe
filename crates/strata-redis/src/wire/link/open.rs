//! Opening the read line's connection: where it goes, and logging in.

use std::path::PathBuf;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use strata_backend::{BackendError, BackendResult, ErrorKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::super::resp::{self, Parsed, Shape};
use crate::config::RedisConfig;

/// Where the read line connects, and how it logs in.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    addr: Addr,
    username: Option<String>,
    password: Option<String>,
    db: i64,
    pub(super) connect_timeout: Duration,
    /// The URL with its password hidden, for messages.
    pub(super) url: String,
}

#[derive(Debug, Clone)]
enum Addr {
    Tcp(String, u16),
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(PathBuf),
}

impl Target {
    /// The server of `config` when the read line can reach it: one server over TCP or a Unix
    /// socket (`None` for TLS and clusters, read through redis-rs).
    pub(crate) fn of(config: &RedisConfig) -> BackendResult<Option<Self>> {
        if config.cluster {
            return Ok(None);
        }
        let client = crate::connect::client_for(config, &config.url)?;
        let info = client.get_connection_info();
        let addr = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => Addr::Tcp(host.clone(), *port),
            #[cfg(unix)]
            redis::ConnectionAddr::Unix(path) => Addr::Unix(path.clone()),
            _ => return Ok(None),
        };
        let settings = info.redis_settings();
        Ok(Some(Self {
            addr,
            username: settings.username().map(str::to_owned),
            password: settings.password().map(str::to_owned),
            db: settings.db(),
            connect_timeout: config.connect_timeout,
            url: config.redacted_url(),
        }))
    }
}

pub(super) type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub(super) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// Opens a connection and logs in (`AUTH`, `SELECT`).
pub(super) async fn open(target: &Target) -> BackendResult<(Reader, Writer)> {
    let refused = |e: std::io::Error| {
        BackendError::new(
            ErrorKind::Connection,
            format!("redis GET: cannot connect to {}: {e}", target.url),
        )
    };
    let (mut read, mut write): (Reader, Writer) = match &target.addr {
        Addr::Tcp(host, port) => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(refused)?;
            stream.set_nodelay(true).map_err(refused)?;
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        }
        #[cfg(unix)]
        Addr::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(refused)?;
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        }
        #[cfg(not(unix))]
        Addr::Unix(_) => return Err(refused(std::io::ErrorKind::Unsupported.into())),
    };
    log_in(target, &mut read, &mut write).await?;
    Ok((read, write))
}

/// Sends `AUTH` and `SELECT` as the target needs, each expecting `OK`.
async fn log_in(target: &Target, read: &mut Reader, write: &mut Writer) -> BackendResult<()> {
    let mut out = Vec::new();
    let mut sent = Vec::new();
    if let Some(password) = &target.password {
        let user = target.username.as_deref();
        resp::push_head(&mut out, "AUTH", 1 + usize::from(user.is_some()));
        if let Some(user) = user {
            resp::push_arg(&mut out, user.as_bytes());
        }
        resp::push_arg(&mut out, password.as_bytes());
        sent.push("AUTH");
    }
    if target.db != 0 {
        resp::push_head(&mut out, "SELECT", 1);
        resp::push_arg(&mut out, target.db.to_string().as_bytes());
        sent.push("SELECT");
    }
    if sent.is_empty() {
        return Ok(());
    }
    let io = |e: std::io::Error| {
        BackendError::new(
            ErrorKind::Connection,
            format!("redis GET: logging in to {}: {e}", target.url),
        )
    };
    write.write_all(&out).await.map_err(io)?;
    let mut buf = BytesMut::with_capacity(256);
    let mut items = Vec::new();
    for command in sent {
        let shape = loop {
            match resp::parse(&buf, &mut items) {
                Ok(Parsed::Reply(len, shape)) => {
                    buf.advance(len);
                    break shape;
                }
                Ok(Parsed::Need(_)) => {
                    if read.read_buf(&mut buf).await.map_err(io)? == 0 {
                        return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
                    }
                }
                Err(e) => return Err(protocol(&target.url, &e.0)),
            }
        };
        match shape {
            Shape::Status(_) => {}
            Shape::Error(text) => {
                return Err(BackendError::new(
                    ErrorKind::Config,
                    format!("redis {command} at {} refused: {text}", target.url),
                ));
            }
            other => return Err(protocol(&target.url, &format!("{command}: {other:?}"))),
        }
    }
    Ok(())
}

pub(super) fn protocol(url: &str, what: &str) -> BackendError {
    BackendError::new(
        ErrorKind::Server,
        format!("redis GET: {url} answered what is not a reply to a read ({what})"),
    )
}
