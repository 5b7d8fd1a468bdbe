//! `Tier`: the in-process tier and the backend tier.

/// A tier of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// The in-process tier.
    L1,
    /// The backend tier (Redis or memory).
    L2,
}

impl Tier {
    /// "l1" or "l2".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "l1",
            Self::L2 => "l2",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::L1 => 0,
            Self::L2 => 1,
        }
    }
}

/// Both tiers, in index order.
pub(crate) const TIERS: [Tier; 2] = [Tier::L1, Tier::L2];
