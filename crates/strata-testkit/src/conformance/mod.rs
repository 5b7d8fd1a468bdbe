//! The conformance suite: one set of behaviours every [`Backend`] must show.
//!
//! Implement [`Fixture`] for your backend and expand [`backend_conformance!`](crate::backend_conformance)
//! in a test file; each case becomes its own `#[tokio::test]`. Every case expects a backend with
//! the default maximum value size
//! ([`DEFAULT_MAX_VALUE_BYTES`](strata_backend::DEFAULT_MAX_VALUE_BYTES)).

mod abilities;
mod batches;
mod entries;
mod namespace;
mod typed_batch;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use strata_backend::Backend;

pub use abilities::{
    leases_guard_stores_against_invalidation, memory_usage_of_keys, ping_and_info, version_counters,
};
pub use batches::{
    clear_removes_only_its_own_namespace, concurrent_access_is_consistent, delete_and_delete_many,
    delete_if_equals_compares_first, get_many_keeps_order_and_holes, many_keys_in_batches,
    scan_lists_exactly_the_prefix,
};
pub use entries::{
    bad_input_is_refused_with_named_errors, empty_values_are_not_missing,
    entries_expire_after_their_ttl, get_missing_is_none, large_values_and_the_size_limit,
    set_overwrites, ttl_lookup, values_are_binary_safe,
};
pub use namespace::keys_outside_the_namespace_are_refused;
pub use typed_batch::batches_answer_each_step_by_its_handle;

/// Makes backends for the suite.
#[async_trait]
pub trait Fixture: Send + Sync + 'static {
    /// A fresh, empty backend that owns `namespace`. Backends from one fixture share storage
    /// when the backend kind is shared (Redis), so one can write beside another.
    async fn backend(&self, namespace: &str) -> Arc<dyn Backend>;

    /// Whether the backend is expected to have the ability `name` ("leases",
    /// "version_counters", "listing", "memory_usage"): the cases of an expected ability fail
    /// when the backend does not expose it (default: every ability is expected).
    fn expects(&self, ability: &str) -> bool {
        let _ = ability;
        true
    }
}

/// The backend's ability `A`, or `None` (the case is skipped) when the fixture does not expect
/// it; a missing expected ability fails the case.
fn ability<'a, A: ?Sized>(fx: &dyn Fixture, name: &str, found: Option<&'a A>) -> Option<&'a A> {
    match found {
        Some(a) => Some(a),
        None if fx.expects(name) => panic!("the backend does not expose its {name} ability"),
        None => None,
    }
}

const LONG: Duration = Duration::from_secs(600);

fn key(ns: &str, k: impl std::fmt::Display) -> String {
    format!("{ns}{k}")
}

/// Expands to one `#[tokio::test]` per conformance case, each calling `$fixture().await`
/// (an `async fn() -> Option<impl Fixture>`; `None` skips the case).
///
/// ```text
/// async fn fixture() -> Option<MyFixture> { Some(MyFixture::new()) }
/// strata_testkit::backend_conformance!(fixture);
/// ```
///
/// `backend_conformance!(in_sequence: &fixture)` instead runs every case, one after the other,
/// on one fixture (an expression usable in an async test), for backends that are costly to
/// stand up, like a cluster.
#[macro_export]
macro_rules! backend_conformance {
    (in_sequence: $fx:expr) => {
        $crate::backend_conformance!(@with sequence $fx)
    };
    ($fixture:path) => {
        $crate::backend_conformance! { @with tests $fixture }
    };
    (@with $how:ident $fx:tt) => {
        $crate::backend_conformance! { @$how $fx;
            get_missing_is_none,
            values_are_binary_safe,
            empty_values_are_not_missing,
            large_values_and_the_size_limit,
            bad_input_is_refused_with_named_errors,
            set_overwrites,
            entries_expire_after_their_ttl,
            ttl_lookup,
            get_many_keeps_order_and_holes,
            many_keys_in_batches,
            delete_and_delete_many,
            delete_if_equals_compares_first,
            clear_removes_only_its_own_namespace,
            scan_lists_exactly_the_prefix,
            concurrent_access_is_consistent,
            memory_usage_of_keys,
            leases_guard_stores_against_invalidation,
            version_counters,
            keys_outside_the_namespace_are_refused,
            ping_and_info,
            batches_answer_each_step_by_its_handle,
        }
    };
    (@sequence $fx:tt; $($case:ident),* $(,)?) => {{
        let fx = $fx;
        $(
            eprintln!("conformance case {}", stringify!($case));
            $crate::conformance::$case(fx).await;
        )*
    }};
    (@tests $fixture:tt; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(fx) = $fixture().await {
                    $crate::conformance::$case(&fx).await;
                }
            }
        )*
    };
}
