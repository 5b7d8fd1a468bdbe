//! Hot keys: a bounded heavy-hitter sketch per kind (Space-Saving, Metwally et al., ICDT 2005)
//! fed by a sample of the lookups, exported like Caffeine's `hottest(n)`.
//!
//! The sketch keeps at most `capacity` counters. A key already counted adds to its counter; a
//! new key takes over the smallest counter, starting from its count (the over-estimate is kept
//! as the entry's `error`). Any key looked up more than `lookups / capacity` times is in the
//! sketch, and each estimate is at most `error` above the true count. Counters live in an
//! indexed min-heap, so each update costs O(log capacity).
//!
//! Only one lookup in `sample_every` reaches the sketch (chosen by a per-thread random number
//! compared with a threshold: no shared state, no division), and it counts for `sample_every`,
//! so the estimates are in lookups. A sample that finds the sketch locked by another thread is
//! dropped rather than waited for.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::Hash;

use parking_lot::Mutex;
use serde::{Serialize, Serializer};
use strata_keys::Key;

/// How a kind's hot-key sketch is sized and sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HotKeysConfig {
    /// Counters kept (the most keys the sketch can report), at least 1.
    pub capacity: usize,
    /// One lookup in this many is recorded (1: every lookup), at least 1.
    pub sample_every: u32,
}

impl HotKeysConfig {
    /// A sketch of `capacity` counters recording one lookup in `sample_every` (each raised to 1
    /// if zero).
    pub fn new(capacity: usize, sample_every: u32) -> Self {
        Self {
            capacity: capacity.max(1),
            sample_every: sample_every.max(1),
        }
    }
}

impl Default for HotKeysConfig {
    /// 1,024 counters, one lookup in 16 (on a Zipf 0.9 trace over 10,000 keys this finds the
    /// true top 100 in its `hottest(200)`; 256 counters find about 60 of them).
    fn default() -> Self {
        Self::new(1024, 16)
    }
}

/// One key of [`HotKeys::hottest`]: its estimated lookups and the most they may be over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HotKey {
    /// The full cache key.
    #[serde(serialize_with = "key_as_str")]
    pub key: Key,
    /// Estimated lookups of the key (hits and misses) since the sketch started or was decayed.
    pub count: u64,
    /// How much of `count` may come from the keys this one displaced (`count - error` is a
    /// lower bound, up to sampling).
    pub error: u64,
}

fn key_as_str<S: Serializer>(key: &Key, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(key.as_str())
}

/// The hot-key sketch of one kind. Cheap to update: see the module documentation.
#[derive(Debug)]
pub struct HotKeys {
    /// A lookup is sampled when a random `u32` is at most this.
    threshold: u32,
    weight: u64,
    sketch: Mutex<SpaceSaving<Key>>,
}

impl HotKeys {
    /// An empty sketch.
    pub fn new(config: HotKeysConfig) -> Self {
        let every = config.sample_every.max(1);
        Self {
            threshold: u32::MAX / every,
            weight: u64::from(every),
            sketch: Mutex::new(SpaceSaving::new(config.capacity.max(1))),
        }
    }

    /// A lookup of `key`: recorded (for `sample_every` lookups) if this one is sampled.
    #[inline]
    pub fn offer(&self, key: &Key) {
        if next_random() <= self.threshold {
            self.record_sampled(key);
        }
    }

    /// [`offer`](Self::offer) for a caller that holds the key's text: `key` makes the [`Key`],
    /// called only when this lookup is sampled and the sketch does not count the key yet.
    #[inline]
    pub fn offer_with(&self, text: &str, key: impl FnOnce() -> Key) {
        if next_random() <= self.threshold {
            self.record_sampled_text(text, key);
        }
    }

    #[cold]
    fn record_sampled_text(&self, text: &str, key: impl FnOnce() -> Key) {
        if let Some(mut sketch) = self.sketch.try_lock()
            && !sketch.bump(text, self.weight)
        {
            sketch.add(&key(), self.weight);
        }
    }

    #[cold]
    #[inline(never)]
    fn record_sampled(&self, key: &Key) {
        if let Some(mut sketch) = self.sketch.try_lock() {
            sketch.add(key, self.weight);
        }
    }

    /// Records `lookups` lookups of `key`, unsampled (waits for the lock).
    pub fn record(&self, key: &Key, lookups: u64) {
        self.sketch.lock().add(key, lookups);
    }

    /// The `n` keys with the highest estimated lookups, most looked up first (ties by key).
    pub fn hottest(&self, n: usize) -> Vec<HotKey> {
        let mut all: Vec<HotKey> = self
            .sketch
            .lock()
            .counters()
            .map(|c| HotKey {
                key: c.key.clone(),
                count: c.count,
                error: c.error,
            })
            .collect();
        all.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }

    /// Halves every count (and error), so keys that stopped being looked up sink below the
    /// ones looked up now; counts that reach zero are dropped.
    pub fn decay(&self) {
        self.sketch.lock().halve();
    }

    /// Keys counted (at most the capacity).
    pub fn len(&self) -> usize {
        self.sketch.lock().heap.len()
    }

    /// Whether no key is counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.sketch.lock().clear();
    }
}

/// A per-thread xorshift64* generator: a few instructions, no shared state.
#[inline]
fn next_random() -> u32 {
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seeded once per thread from the address of its state (distinct per thread).
            x = (s as *const Cell<u64> as u64) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    })
}

#[derive(Debug)]
struct Counter<K> {
    key: K,
    count: u64,
    error: u64,
}

/// Space-Saving over an indexed min-heap of counters.
#[derive(Debug)]
struct SpaceSaving<K> {
    capacity: usize,
    heap: Vec<Counter<K>>,
    /// Each counted key's place in `heap`. foldhash, randomly seeded per sketch: a sift hashes
    /// a key at every step, and SipHash was most of a sampled hit's cost.
    index: HashMap<K, usize, foldhash::fast::RandomState>,
}

impl SpaceSaving<Key> {
    /// Adds `weight` to the key whose text is `text` if it is counted (false: it is not).
    fn bump(&mut self, text: &str, weight: u64) -> bool {
        let Some(&i) = self.index.get(text) else {
            return false;
        };
        self.heap[i].count = self.heap[i].count.saturating_add(weight);
        self.sift_down(i);
        true
    }
}

impl<K: Hash + Eq + Clone> SpaceSaving<K> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            heap: Vec::with_capacity(capacity),
            index: HashMap::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    fn counters(&self) -> impl Iterator<Item = &Counter<K>> {
        self.heap.iter()
    }

    fn add(&mut self, key: &K, weight: u64) {
        if let Some(&i) = self.index.get(key) {
            self.heap[i].count = self.heap[i].count.saturating_add(weight);
            self.sift_down(i);
            return;
        }
        if self.heap.len() < self.capacity {
            self.index.insert(key.clone(), self.heap.len());
            self.heap.push(Counter {
                key: key.clone(),
                count: weight,
                error: 0,
            });
            self.sift_up(self.heap.len() - 1);
            return;
        }
        let min = self.heap[0].count;
        let new = Counter {
            key: key.clone(),
            count: min.saturating_add(weight),
            error: min,
        };
        let old = std::mem::replace(&mut self.heap[0], new);
        self.index.remove(&old.key);
        self.index.insert(key.clone(), 0);
        self.sift_down(0);
    }

    fn halve(&mut self) {
        // Halving keeps the heap order (it is monotone); zeroed counters are rebuilt away.
        for c in &mut self.heap {
            c.count /= 2;
            c.error /= 2;
        }
        if self.heap.iter().any(|c| c.count == 0) {
            self.heap.retain(|c| c.count > 0);
            self.heap.sort_unstable_by_key(|c| c.count);
            self.index.clear();
            for (i, c) in self.heap.iter().enumerate() {
                self.index.insert(c.key.clone(), i);
            }
        }
    }

    fn clear(&mut self) {
        self.heap.clear();
        self.index.clear();
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        for i in [a, b] {
            if let Some(slot) = self.index.get_mut(&self.heap[i].key) {
                *slot = i;
            }
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].count <= self.heap[i].count {
                break;
            }
            self.swap(parent, i);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < self.heap.len() && self.heap[l].count < self.heap[smallest].count {
                smallest = l;
            }
            if r < self.heap.len() && self.heap[r].count < self.heap[smallest].count {
                smallest = r;
            }
            if smallest == i {
                return;
            }
            self.swap(i, smallest);
            i = smallest;
        }
    }
}

#[cfg(test)]
mod tests;
