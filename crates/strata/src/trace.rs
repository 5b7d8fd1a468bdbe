//! Tracing spans of cache operations, for an OpenTelemetry (or any `tracing`) subscriber.
//!
//! Spans at DEBUG level, with the fields `kind`, `key`, `tier` and `outcome`:
//! `strata.load` (a `get_or_load` past L1: outcome `hit`, `hit_after_wait`, `loaded`,
//! `stale_after_soft_timeout`, `stale_after_loader_failure`, `loader_failed` or `error`),
//! `strata.l2.get` (a read of L2: `hit`, `stale`, `miss`, `error`), `strata.set`,
//! `strata.delete`, `strata.invalidate` (`change`, `id`), `strata.clear_kind` and
//! `strata.invalidate_tag`. L1 hits make no span: they cost nanoseconds and are counted in the
//! statistics.

/// Records how the current operation ended on its span.
pub(crate) fn outcome(outcome: &'static str) {
    tracing::Span::current().record("outcome", outcome);
}
