//! The error type shared by every backend.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, for callers to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operation did not finish within its timeout.
    Timeout,
    /// The server could not be reached (a refused connection, a host name that does not
    /// resolve), the connection dropped, or it is not ready (loading, failing over). The
    /// message says which.
    Connection,
    /// Stored bytes could not be decoded, or a value could not be encoded.
    Codec,
    /// The backend does not implement this operation (see [`Capabilities`](crate::Capabilities)).
    Unsupported,
    /// The backend is misconfigured (bad URL, bad namespace, bad limits, rejected credentials,
    /// a database the server does not have). The message says which.
    Config,
    /// The caller passed something unusable: an empty key, a zero TTL, an oversized value.
    InvalidInput,
    /// The server is out of memory and refuses writes.
    OutOfMemory,
    /// Any other error reported by the server.
    Server,
    /// A circuit breaker skipped the operation: the backend failed repeatedly and is left
    /// alone until its cool-down ends (see [`CircuitBreaker`](crate::CircuitBreaker)).
    CircuitOpen,
}

impl ErrorKind {
    /// A short lowercase name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::Codec => "codec",
            Self::Unsupported => "unsupported",
            Self::Config => "config",
            Self::InvalidInput => "invalid_input",
            Self::OutOfMemory => "out_of_memory",
            Self::Server => "server",
            Self::CircuitOpen => "circuit_open",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a [`Backend`](crate::Backend): a kind, a message for people, and the source.
pub struct BackendError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl BackendError {
    /// An error of `kind` described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying later may succeed: timeouts and connection problems (what a circuit
    /// breaker counts), and an open circuit.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::Connection | ErrorKind::CircuitOpen
        )
    }

    /// An [`ErrorKind::Unsupported`] error for `operation` on `backend`.
    pub fn unsupported(backend: &str, operation: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("{backend} does not support {operation}"),
        )
    }

    /// An [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::CircuitOpen`] error for `operation`.
    pub fn circuit_open(operation: &str) -> Self {
        Self::new(
            ErrorKind::CircuitOpen,
            format!("{operation} skipped: the backend circuit is open after repeated failures"),
        )
    }

    /// An [`ErrorKind::Timeout`] error for `operation` after `after`.
    pub fn timeout(operation: &str, after: std::time::Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("{operation} timed out after {after:?}"),
        )
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("BackendError");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(s) = &self.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.kind, self.message)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// The result type of backend operations.
pub type BackendResult<T> = Result<T, BackendError>;
