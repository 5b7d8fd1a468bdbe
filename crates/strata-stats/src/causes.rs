//! Misses by cause, per tier.
//!
//! Causes seen on the entry itself (expired, invalidated, undecodable, the backend unreachable)
//! are exact. A key that is simply not there is explained by what the per-kind key sample
//! (see [`crate::mrc`]) remembers of it: never asked before (cold), evicted from L1 (the L1's
//! eviction hook marks it), invalidated, past its expiry, never stored (absent), or, in L2,
//! stored, unexpired and not invalidated yet gone: evicted by a quota or the backend's limits.
//! The not-there misses of keys outside the sample are shared among those causes in the
//! proportions the sampled keys show (largest remainders, so the causes add up to the misses).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::stripe::Striped;

/// Why a tier could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissCause {
    /// The key was never asked for before (in this process).
    Cold,
    /// Asked before, but nothing was stored since (the load failed or was not cached).
    Absent,
    /// The entry was past its TTL (or, in L1, its maximum lifetime), or due for refresh.
    Expired,
    /// The entry was invalidated (deleted, its kind cleared, a tag invalidated).
    Invalidated,
    /// The bytes could not be decoded (corrupt, another schema, another type).
    Undecodable,
    /// L1 evicted the entry to stay within its budget.
    EvictedL1,
    /// L2 lost an entry that was stored, unexpired and not invalidated: evicted by a quota or
    /// the backend's memory limit.
    EvictedQuota,
    /// L1 held the entry but its coherence (the invalidation channel) was not confirmed
    /// recently enough to serve it.
    Unverified,
    /// None of the above could be told.
    Unknown,
}

/// Every cause, in the order reported.
pub(crate) const CAUSES: [MissCause; 9] = [
    MissCause::Cold,
    MissCause::Absent,
    MissCause::Expired,
    MissCause::Invalidated,
    MissCause::Undecodable,
    MissCause::EvictedL1,
    MissCause::EvictedQuota,
    MissCause::Unverified,
    MissCause::Unknown,
];

/// The causes a key's history explains (the others are seen on the entry).
const HISTORY_CAUSES: [MissCause; 7] = [
    MissCause::Cold,
    MissCause::Absent,
    MissCause::Expired,
    MissCause::Invalidated,
    MissCause::EvictedL1,
    MissCause::EvictedQuota,
    MissCause::Unknown,
];

impl MissCause {
    /// The name in reports: "cold", "absent", "expired", "invalidated", "undecodable",
    /// "evicted_l1", "evicted_quota", "unverified", "unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cold => "cold",
            Self::Absent => "absent",
            Self::Expired => "expired",
            Self::Invalidated => "invalidated",
            Self::Undecodable => "undecodable",
            Self::EvictedL1 => "evicted_l1",
            Self::EvictedQuota => "evicted_quota",
            Self::Unverified => "unverified",
            Self::Unknown => "unknown",
        }
    }

    fn index(self) -> usize {
        CAUSES
            .iter()
            .position(|c| *c == self)
            .unwrap_or(CAUSES.len() - 1)
    }
}

/// The cause counters of one tier, striped by thread (every miss counts one: the misses of
/// different threads count on different cache lines), summed when read.
#[derive(Debug, Default)]
pub(crate) struct CauseCounters {
    stripes: Striped<Stripe>,
}

/// One thread's share of a tier's cause counters.
#[derive(Debug, Default)]
struct Stripe {
    /// Causes seen on the entry (every key).
    seen: [AtomicU64; CAUSES.len()],
    /// Not-there misses of sampled keys, explained by their history.
    history: [AtomicU64; CAUSES.len()],
    /// Not-there misses of keys outside the sample, to share out.
    unsampled: AtomicU64,
}

impl CauseCounters {
    /// A miss whose cause was seen on the entry.
    pub(crate) fn add(&self, cause: MissCause) {
        self.stripes.mine().seen[cause.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A not-there miss of a sampled key, explained by its history.
    pub(crate) fn add_history(&self, cause: MissCause) {
        self.stripes.mine().history[cause.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_unsampled(&self) {
        self.stripes
            .mine()
            .unsampled
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The counts read now, with the unsampled misses shared out.
    pub(crate) fn snapshot(&self) -> MissCauses {
        let mut history: [u64; CAUSES.len()] =
            std::array::from_fn(|i| self.stripes.sum(|s| &s.history[i]));
        let unsampled = self.stripes.sum(|s| &s.unsampled);
        share_out(&mut history, unsampled);
        let out: [u64; CAUSES.len()] =
            std::array::from_fn(|i| self.stripes.sum(|s| &s.seen[i]) + history[i]);
        MissCauses {
            total: out.iter().sum(),
            estimated: unsampled,
            causes: CAUSES
                .iter()
                .zip(out)
                .map(|(c, n)| (c.as_str().to_owned(), n))
                .collect(),
        }
    }
}

/// Adds `extra` misses to the history causes in the proportions they have (to unknown when
/// they have none), by largest remainders.
fn share_out(counts: &mut [u64; CAUSES.len()], extra: u64) {
    if extra == 0 {
        return;
    }
    let idx: Vec<usize> = HISTORY_CAUSES.iter().map(|c| c.index()).collect();
    let basis: u64 = idx.iter().map(|i| counts[*i]).sum();
    if basis == 0 {
        counts[MissCause::Unknown.index()] += extra;
        return;
    }
    let mut given = 0;
    let mut remainders = Vec::with_capacity(idx.len());
    for i in &idx {
        let exact = u128::from(extra) * u128::from(counts[*i]);
        let whole = (exact / u128::from(basis)) as u64;
        remainders.push((exact % u128::from(basis), *i));
        counts[*i] += whole;
        given += whole;
    }
    remainders.sort_unstable_by(|a, b| b.cmp(a));
    for (_, i) in remainders.into_iter().take((extra - given) as usize) {
        counts[i] += 1;
    }
}

/// One tier's misses by cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct MissCauses {
    /// The misses explained (equals the tier's misses).
    pub total: u64,
    /// How many of them were keys outside the sample, shared out in the sampled proportions.
    pub estimated: u64,
    /// Misses per cause ("cold", "absent", "expired", "invalidated", "undecodable",
    /// "evicted_l1", "evicted_quota", "unverified", "unknown"), in that order. (A read that could not reach
    /// the backend is not a tier miss: it is counted in the tier's `errors`.)
    #[serde(serialize_with = "as_map")]
    pub causes: Vec<(String, u64)>,
}

/// The causes as a JSON object, in their order.
fn as_map<S: serde::Serializer>(causes: &[(String, u64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(causes.len()))?;
    for (cause, n) in causes {
        map.serialize_entry(cause, n)?;
    }
    map.end()
}

impl MissCauses {
    /// The misses of `cause`.
    pub fn of(&self, cause: MissCause) -> u64 {
        self.causes
            .iter()
            .find(|(c, _)| c == cause.as_str())
            .map_or(0, |(_, n)| *n)
    }

    /// Adds `other`'s counts (for the totals over kinds).
    pub(crate) fn accumulate(&mut self, other: &MissCauses) {
        if self.causes.is_empty() {
            *self = other.clone();
            return;
        }
        self.total += other.total;
        self.estimated += other.estimated;
        for ((_, mine), (_, theirs)) in self.causes.iter_mut().zip(&other.causes) {
            *mine += theirs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_out_misses_keep_the_sum() {
        let c = CauseCounters::default();
        for _ in 0..3 {
            c.add_history(MissCause::Cold);
        }
        c.add_history(MissCause::EvictedL1);
        c.add_history(MissCause::EvictedL1);
        c.add(MissCause::Undecodable);
        c.add(MissCause::Expired);
        for _ in 0..10 {
            c.add_unsampled();
        }
        let s = c.snapshot();
        assert_eq!(s.total, 17);
        assert_eq!(s.of(MissCause::Expired), 1, "seen on the entry: no share");
        assert_eq!(s.estimated, 10);
        assert_eq!(
            s.of(MissCause::Undecodable),
            1,
            "exact causes are not shared into"
        );
        assert_eq!(s.of(MissCause::Cold), 3 + 6, "3/5 of 10");
        assert_eq!(s.of(MissCause::EvictedL1), 2 + 4);
    }

    #[test]
    fn without_a_basis_the_unsampled_are_unknown() {
        let c = CauseCounters::default();
        c.add_unsampled();
        c.add_history(MissCause::Expired);
        let s = c.snapshot();
        assert_eq!(
            s.of(MissCause::Expired),
            2,
            "a history cause takes the share"
        );
        let c = CauseCounters::default();
        c.add_unsampled();
        assert_eq!(c.snapshot().of(MissCause::Unknown), 1);
    }
}
