//! A kind's generation as this instance knows it, and whether it was read from the backend;
//! and the stamp every entry records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_codec::TagVersion;

/// Set on a kind's generation until it has been read from the backend.
const UNSYNCED: u64 = 1 << 63;

/// The generation of one kind as this instance knows it.
#[derive(Debug, Default)]
pub(crate) struct KindGeneration(AtomicU64);

impl KindGeneration {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(UNSYNCED))
    }

    /// The generation, and whether it has been read from the backend since the last reset.
    pub(crate) fn load(&self) -> (u64, bool) {
        let v = self.0.load(Ordering::Acquire);
        (v & !UNSYNCED, v & UNSYNCED == 0)
    }

    /// Takes `generation` if it is newer, and marks the value as read from the backend.
    pub(crate) fn raise(&self, generation: u64) {
        let g = generation & !UNSYNCED;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some((cur & !UNSYNCED).max(g))
            });
    }

    /// Takes `generation` if it is newer, leaving the mark of whether it was read as it is.
    pub(crate) fn raise_unsynced(&self, generation: u64) {
        let g = generation & !UNSYNCED;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some((cur & UNSYNCED) | (cur & !UNSYNCED).max(g))
            });
    }

    /// Marks the value as possibly behind (messages may have been missed).
    pub(crate) fn unsync(&self) {
        self.0.fetch_or(UNSYNCED, Ordering::AcqRel);
    }
}

/// What every entry of a kind records when it is written: the kind's generation and the
/// versions of its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) generation: u64,
    pub(crate) tags: Option<Arc<[TagVersion]>>,
}
