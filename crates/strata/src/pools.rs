//! The L1 stores of a cache: the default pool, and one partition per kind with a budget of its
//! own, so that a flood of one kind evicts only that kind's entries.

use std::collections::BTreeMap;

use strata_l1::L1;

/// The default pool and the kinds' own partitions. A kind's store is resolved once (into its
/// `KindState`), so an L1 hit costs the same with partitions as without.
#[derive(Default)]
pub(crate) struct L1Pools {
    default: Option<L1>,
    partitions: BTreeMap<String, L1>,
}

impl L1Pools {
    /// The default pool (`None`: no L1) and the partitions of the kinds with a budget.
    pub(crate) fn new(default: Option<L1>, partitions: BTreeMap<String, L1>) -> Self {
        Self {
            default,
            partitions,
        }
    }

    /// The default pool, shared by the kinds without a budget of their own.
    pub(crate) fn default_pool(&self) -> Option<&L1> {
        self.default.as_ref()
    }

    /// The kinds' own partitions, by kind.
    pub(crate) fn partitions(&self) -> &BTreeMap<String, L1> {
        &self.partitions
    }

    /// The store of `kind`: its partition, else the default pool.
    pub(crate) fn of_kind(&self, kind: &str) -> Option<&L1> {
        self.partitions.get(kind).or(self.default.as_ref())
    }

    /// The store holding the key `key`; without partitions the default pool, unparsed.
    pub(crate) fn of_key(&self, key: &str) -> Option<&L1> {
        if self.partitions.is_empty() {
            return self.default.as_ref();
        }
        match strata_keys::Key::parse(key) {
            Ok(parts) => self.of_kind(&parts.kind),
            Err(_) => self.default.as_ref(),
        }
    }

    /// Every store: the default pool, then the partitions.
    pub(crate) fn all(&self) -> impl Iterator<Item = &L1> {
        self.default.iter().chain(self.partitions.values())
    }
}
