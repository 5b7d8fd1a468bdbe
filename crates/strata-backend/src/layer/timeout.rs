//! `Timeout`: a limit on every operation of the wrapped backend.

use std::future::Future;
use std::time::Duration;

use super::Wrap;
use crate::capabilities::Capabilities;
use crate::error::{BackendError, BackendResult};
use crate::operation::Operation;

/// Fails any operation that takes longer than the limit with
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) naming the operation (tokio's clock, so a
/// test may pause time). A backend wrapped in it is bounded ([`Capabilities::bounded`](crate::Capabilities::bounded)).
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    limit: Duration,
}

impl Timeout {
    /// A limit of `limit` on each operation.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

impl Wrap for Timeout {
    async fn around<T: Send>(
        &self,
        ops: &[Operation],
        call: impl Future<Output = BackendResult<T>> + Send,
    ) -> BackendResult<T> {
        let limit = crate::limit_or(self.limit);
        match tokio::time::timeout(limit, call).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::timeout(&describe(ops), limit)),
        }
    }

    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        inner.with_bounded(true)
    }
}

/// The operations of a call, for messages: `get`, or `batch of get, acquire_lease`.
pub(crate) fn describe(ops: &[Operation]) -> String {
    match ops {
        [one] => one.as_str().to_owned(),
        many => {
            let names: Vec<&str> = many.iter().map(|o| o.as_str()).collect();
            format!("batch of {}", names.join(", "))
        }
    }
}
