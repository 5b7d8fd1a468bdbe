//! A time limit for the backend calls made inside one future, in place of the backend's own
//! operation timeout: a change may wait longer for its backend than a read does.

use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    static LIMIT: Duration;
}

/// Runs `fut` with `limit` as the time limit of every backend call it makes (backends that
/// bound their own calls, and the [`Timeout`](crate::Timeout) layer, read it with
/// [`limit_or`]).
pub async fn within_limit<F: Future>(limit: Duration, fut: F) -> F::Output {
    LIMIT.scope(limit, fut).await
}

/// The limit set by [`within_limit`] around the current call, else `default` (the backend's
/// operation timeout).
pub fn limit_or(default: Duration) -> Duration {
    LIMIT.try_with(|l| *l).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limit_holds_inside_its_scope_only() {
        let default = Duration::from_millis(250);
        assert_eq!(limit_or(default), default);
        let inside = within_limit(Duration::from_secs(1), async { limit_or(default) }).await;
        assert_eq!(inside, Duration::from_secs(1));
        assert_eq!(limit_or(default), default);
    }
}
