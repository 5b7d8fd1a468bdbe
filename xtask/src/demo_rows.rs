//! What the end-to-end measurement (`demo_load`) runs and produces, shared with the tables
//! that show it (`demo_table`): the demo's setups and one measured row.

use crate::wrk::WrkRun;

/// The uncached setup's name (its rows have no ratio to themselves).
pub(crate) const NO_CACHE: &str = "--no-cache";

/// One way of running the demo.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setup {
    pub(crate) name: &'static str,
    pub(crate) redis: bool,
    pub(crate) l1: bool,
    pub(crate) no_cache: bool,
}

/// The setups, the uncached app last (the ratios refer to it).
pub(crate) const SETUPS: [Setup; 4] = [
    Setup {
        name: "memory + L1",
        redis: false,
        l1: true,
        no_cache: false,
    },
    Setup {
        name: "redis + L1",
        redis: true,
        l1: true,
        no_cache: false,
    },
    Setup {
        name: "redis, no L1",
        redis: true,
        l1: false,
        no_cache: false,
    },
    Setup {
        name: NO_CACHE,
        redis: false,
        l1: true,
        no_cache: true,
    },
];

/// One measured row.
pub(crate) struct Row {
    pub(crate) setup: &'static str,
    pub(crate) endpoint: &'static str,
    /// `hot` (one id), `random` (every id) or `one` (an endpoint without an id).
    pub(crate) keys: &'static str,
    pub(crate) run: WrkRun,
    /// The ceiling the row is compared with when the ceiling was measured around the row: the
    /// median of the runs just before and just after its endpoint and of the median of all
    /// the setup's runs (drift between runs is followed, a lone spike of one run is not);
    /// `None`: the setup's first run.
    pub(crate) ceiling_rps: Option<f64>,
}
