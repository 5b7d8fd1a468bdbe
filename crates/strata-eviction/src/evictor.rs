//! `Evictor`: the bookkeeping of entries, sizes, recency and expiry under limits.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::limits::Limits;
use crate::policy::EvictionPolicy;

/// An entry could not be admitted at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvictionError {
    /// The entry alone is larger than `max_bytes`.
    #[error("entry of {size} bytes is larger than the byte limit of {max_bytes}")]
    EntryTooLarge {
        /// The entry's size.
        size: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// `max_entries` is zero, so nothing can be admitted.
    #[error("the entry limit is zero, so no entry can be stored")]
    ZeroCapacity,
}

/// Expiry of entries that never expire, for ordering: after every real expiry.
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone)]
struct Meta {
    size: u64,
    /// Expiry tick, or [`NEVER`].
    expires_at: u64,
    /// Write order: unique, breaks ties in the expiry index.
    write_seq: u64,
    /// Last access: unique, the key of the recency index.
    access_seq: u64,
    /// Position in the random-victim vector.
    slot: usize,
}

/// Tracks entries under [`Limits`] and chooses victims with an [`EvictionPolicy`].
///
/// Pure bookkeeping: it stores keys and sizes, not values, and does no I/O. Every operation is
/// O(log n) or better (hash map, B-tree indexes, and a swap-remove vector for random choice).
/// Times (`expires_at`, `now`) are plain `u64` ticks in any unit the caller picks.
///
/// ```
/// use strata_eviction::{EvictionPolicy, Evictor, Limits};
///
/// let mut lru = Evictor::new(EvictionPolicy::Lru, Limits::default().with_max_entries(2));
/// lru.insert("a", 10, None)?;
/// lru.insert("b", 10, None)?;
/// lru.touch(&"a");
/// assert_eq!(lru.insert("c", 10, None)?, vec!["b"]);
/// # Ok::<(), strata_eviction::EvictionError>(())
/// ```
#[derive(Debug)]
pub struct Evictor<K> {
    policy: EvictionPolicy,
    limits: Limits,
    entries: HashMap<K, Meta>,
    /// (expires_at, write_seq) → key; every entry, those without expiry last.
    by_expiry: BTreeMap<(u64, u64), K>,
    /// access_seq → key; maintained for the LRU policy only.
    by_access: BTreeMap<u64, K>,
    /// Keys in no order; maintained for the Random policy only.
    slots: Vec<K>,
    rng: SmallRng,
    seq: u64,
    bytes: u64,
}

impl<K: Hash + Eq + Clone> Evictor<K> {
    /// An empty evictor (a random seed from the OS for [`EvictionPolicy::Random`]).
    pub fn new(policy: EvictionPolicy, limits: Limits) -> Self {
        Self::with_rng(policy, limits, rand::make_rng::<SmallRng>())
    }

    /// An empty evictor whose random choices are repeatable for a given seed.
    pub fn with_seed(policy: EvictionPolicy, limits: Limits, seed: u64) -> Self {
        Self::with_rng(policy, limits, SmallRng::seed_from_u64(seed))
    }

    fn with_rng(policy: EvictionPolicy, limits: Limits, rng: SmallRng) -> Self {
        Self {
            policy,
            limits,
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            by_access: BTreeMap::new(),
            slots: Vec::new(),
            rng,
            seq: 0,
            bytes: 0,
        }
    }

    /// The policy.
    pub fn policy(&self) -> EvictionPolicy {
        self.policy
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sum of the sizes of all entries.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether `key` is tracked.
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Adds `key` (or replaces it, which counts as an access) and returns the keys evicted to
    /// make room, in eviction order; `key` itself is never among them.
    ///
    /// Fails, changing nothing, when the entry alone exceeds the byte limit or the entry limit
    /// is zero.
    pub fn insert(
        &mut self,
        key: K,
        size: u64,
        expires_at: Option<u64>,
    ) -> Result<Vec<K>, EvictionError> {
        if let Some(max_bytes) = self.limits.max_bytes
            && size > max_bytes
        {
            return Err(EvictionError::EntryTooLarge { size, max_bytes });
        }
        if self.limits.max_entries == Some(0) {
            return Err(EvictionError::ZeroCapacity);
        }
        self.remove(&key);
        let mut victims = Vec::new();
        while !self
            .limits
            .admits(self.entries.len() as u64 + 1, self.bytes + size)
        {
            let Some(victim) = self.peek_victim().cloned() else {
                break;
            };
            self.remove(&victim);
            victims.push(victim);
        }
        let write_seq = self.next_seq();
        let meta = Meta {
            size,
            expires_at: expires_at.unwrap_or(NEVER),
            write_seq,
            access_seq: write_seq,
            slot: self.slots.len(),
        };
        self.by_expiry
            .insert((meta.expires_at, write_seq), key.clone());
        match self.policy {
            EvictionPolicy::Lru => {
                self.by_access.insert(write_seq, key.clone());
            }
            EvictionPolicy::Random => self.slots.push(key.clone()),
            EvictionPolicy::Ttl => {}
        }
        self.bytes += size;
        self.entries.insert(key, meta);
        Ok(victims)
    }

    /// Records an access to `key` (it becomes the most recently used); false if absent.
    pub fn touch(&mut self, key: &K) -> bool {
        if self.policy != EvictionPolicy::Lru {
            return self.entries.contains_key(key);
        }
        self.seq += 1;
        let seq = self.seq;
        let Some(meta) = self.entries.get_mut(key) else {
            return false;
        };
        if let Some(k) = self.by_access.remove(&meta.access_seq) {
            self.by_access.insert(seq, k);
        }
        meta.access_seq = seq;
        true
    }

    /// Stops tracking `key`; returns its size if it was tracked.
    pub fn remove(&mut self, key: &K) -> Option<u64> {
        let meta = self.entries.remove(key)?;
        self.by_expiry.remove(&(meta.expires_at, meta.write_seq));
        match self.policy {
            EvictionPolicy::Lru => {
                self.by_access.remove(&meta.access_seq);
            }
            EvictionPolicy::Random => {
                self.slots.swap_remove(meta.slot);
                if let Some(moved) = self.slots.get(meta.slot)
                    && let Some(m) = self.entries.get_mut(moved)
                {
                    m.slot = meta.slot;
                }
            }
            EvictionPolicy::Ttl => {}
        }
        self.bytes -= meta.size;
        Some(meta.size)
    }

    /// The entry the policy would evict next (Random draws a new choice each call).
    pub fn peek_victim(&mut self) -> Option<&K> {
        match self.policy {
            EvictionPolicy::Lru => self.by_access.values().next(),
            EvictionPolicy::Ttl => self.by_expiry.values().next(),
            EvictionPolicy::Random => {
                if self.slots.is_empty() {
                    None
                } else {
                    let i = self.rng.random_range(0..self.slots.len());
                    self.slots.get(i)
                }
            }
        }
    }

    /// The expiry of `key`, if it is tracked and has one.
    pub fn expires_at(&self, key: &K) -> Option<u64> {
        self.entries
            .get(key)
            .map(|m| m.expires_at)
            .filter(|e| *e != NEVER)
    }

    /// Removes up to `max` entries whose expiry is at or before `now`, soonest first, and
    /// returns them.
    pub fn pop_expired(&mut self, now: u64, max: usize) -> Vec<K> {
        let mut expired = Vec::new();
        while expired.len() < max {
            let Some((&(at, _), key)) = self.by_expiry.iter().next() else {
                break;
            };
            if at == NEVER || at > now {
                break;
            }
            let key = key.clone();
            self.remove(&key);
            expired.push(key);
        }
        expired
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.by_expiry.clear();
        self.by_access.clear();
        self.slots.clear();
        self.bytes = 0;
    }
}
