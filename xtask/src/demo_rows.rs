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

/// One round of a row measured in rounds: the row's run and its peer's (the 404 route, or
/// the static body of the row's size), measured one after the other.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Round {
    pub(crate) rps: f64,
    pub(crate) peer_rps: f64,
}

impl Round {
    /// The row's req/s over its peer's.
    pub(crate) fn ratio(&self) -> f64 {
        self.rps / self.peer_rps
    }
}

/// One measured row.
pub(crate) struct Row {
    pub(crate) setup: &'static str,
    pub(crate) endpoint: &'static str,
    /// `hot` (one id), `random` (every id) or `one` (an endpoint without an id).
    pub(crate) keys: &'static str,
    /// The run (of a row measured in rounds, the round with the median req/s).
    pub(crate) run: WrkRun,
    /// The rounds of a row of a setup with L1 (the goal's rows), each its run and its peer's
    /// right before it, so that the drift of a shared machine's load moves both; empty: one
    /// run, compared with the setup's first ceiling run.
    pub(crate) rounds: Vec<Round>,
}

impl Row {
    /// The median of the rounds' ratios to their peers (`None` without rounds).
    pub(crate) fn round_ratio(&self) -> Option<f64> {
        (!self.rounds.is_empty()).then(|| {
            crate::demo_table::median(&self.rounds.iter().map(Round::ratio).collect::<Vec<_>>())
        })
    }

    /// The median of the rounds' peer req/s (`None` without rounds).
    pub(crate) fn peer_rps(&self) -> Option<f64> {
        (!self.rounds.is_empty()).then(|| {
            crate::demo_table::median(&self.rounds.iter().map(|r| r.peer_rps).collect::<Vec<_>>())
        })
    }
}
