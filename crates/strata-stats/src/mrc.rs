//! SHARDS: an online estimate of an LRU cache's miss-ratio curve from a hash-sampled,
//! fixed-size set of keys (Waldspurger et al., "Efficient MRC Construction with SHARDS",
//! FAST 2015, the fixed-size variant).
//!
//! A key is sampled when its hash is below a threshold (the sampling rate times 2^64). Each
//! access to a sampled key measures its reuse distance among the sampled keys (how many other
//! sampled keys were accessed since its previous access; a Fenwick tree over access times
//! counts them in O(log n)), scales it by 1 / rate, and adds it to a histogram. An LRU cache of
//! `c` entries hits exactly the accesses whose reuse distance is below `c`, so the histogram is
//! the curve. The set holds at most `max_keys` keys: when it would hold more, the key with the
//! largest hash leaves, the threshold drops to that hash, and the histogram is rescaled by
//! the ratio of the new rate to the old, as the paper's fixed-size variant does.

use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// The hash keys are sampled by (foldhash with a fixed seed: the same key is sampled in every
/// run, and the hashes of distinct keys spread evenly).
pub fn sample_hash(key: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed_cafe).hash_one(key)
}

/// Whole distances below this have a bin each.
const LINEAR: usize = 64;
/// log2 of [`LINEAR`].
const LINEAR_OCTAVES: f64 = 6.0;
/// Histogram bins per doubling of the reuse distance above [`LINEAR`] (a bin spans 2.2 % of
/// its distance).
const BINS_PER_OCTAVE: f64 = 32.0;
/// Distances up to 2^48 entries.
const BINS: usize = LINEAR + (48 - 6) * 32;

/// One sampled key: the time of its last access, and what the caller keeps about it.
#[derive(Debug)]
struct Slot<R> {
    last: usize,
    payload: R,
}

/// The SHARDS estimator, with a payload `R` kept for each sampled key.
#[derive(Debug)]
pub struct Shards<R = ()> {
    max_keys: usize,
    /// A key whose hash is below this is sampled.
    threshold: u64,
    /// The sampled keys by hash (already uniform: hashed as they are).
    keys: HashMap<u64, Slot<R>, BuildHasherDefault<AsIs>>,
    /// Their hashes, largest first (the next to leave when the set is full).
    order: BinaryHeap<u64>,
    fenwick: Fenwick,
    next_time: usize,
    /// Weight of the accesses per reuse-distance bin.
    hist: Vec<f64>,
    /// Weight of the first accesses of sampled keys (misses at every size).
    cold: f64,
    /// Accesses to sampled keys.
    sampled_accesses: u64,
    /// The key with the latest mark (accessed or tracked last), while it is in the set.
    latest: Option<u64>,
}

/// What [`Shards::access`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The key is not sampled.
    Unsampled,
    /// The first access of a sampled key.
    First,
    /// A sampled key seen before.
    Again,
}

impl<R: Default> Shards<R> {
    /// An empty estimator sampling at `rate` (0 < rate <= 1) until it holds `max_keys` keys.
    pub fn new(max_keys: usize, rate: f64) -> Self {
        let max_keys = max_keys.max(1);
        let rate = if rate.is_finite() {
            rate.clamp(f64::MIN_POSITIVE, 1.0)
        } else {
            1.0
        };
        Self {
            max_keys,
            threshold: (rate * 18_446_744_073_709_551_615.0) as u64,
            keys: HashMap::default(),
            order: BinaryHeap::new(),
            fenwick: Fenwick::new(4 * max_keys + 16),
            next_time: 0,
            hist: vec![0.0; BINS],
            cold: 0.0,
            sampled_accesses: 0,
            latest: None,
        }
    }

    /// Whether a key hashing to `hash` is sampled now (cheap: one comparison).
    pub fn is_sampled(&self, hash: u64) -> bool {
        hash < self.threshold
    }

    /// The hash threshold now: a key hashing below it is sampled.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// The sampling rate now.
    pub fn rate(&self) -> f64 {
        self.threshold as f64 / 18_446_744_073_709_551_616.0
    }

    /// Keys in the sample set.
    pub fn sampled_keys(&self) -> usize {
        self.keys.len()
    }

    /// Accesses to sampled keys so far.
    pub fn sampled_accesses(&self) -> u64 {
        self.sampled_accesses
    }

    /// The hash of the key accessed (or tracked) last, while it is sampled: an access to it
    /// again is at distance 0, which [`add_repeats`](Self::add_repeats) can record later.
    pub fn latest(&self) -> Option<u64> {
        self.latest
    }

    /// Records `n` accesses to [`latest`](Self::latest) made since it became the latest (each
    /// at reuse distance 0: no other sampled key was accessed in between).
    pub fn add_repeats(&mut self, n: u64) {
        if n > 0 && self.latest.is_some() {
            self.sampled_accesses += n;
            self.hist[0] += n as f64;
        }
    }

    /// Records an access to the key hashing to `hash`; its payload when it is (still) sampled.
    pub fn access(&mut self, hash: u64) -> (Access, Option<&mut R>) {
        if !self.is_sampled(hash) {
            return (Access::Unsampled, None);
        }
        // The key accessed last, again (a hot key's run of hits): its reuse distance is 0 and
        // its mark is already the latest, so neither the tree nor the clock moves.
        let next = self.next_time;
        if self.keys.get(&hash).is_some_and(|s| s.last + 1 == next) {
            self.sampled_accesses += 1;
            self.hist[0] += 1.0;
            return (
                Access::Again,
                self.keys.get_mut(&hash).map(|s| &mut s.payload),
            );
        }
        let now = self.tick(hash);
        self.sampled_accesses += 1;
        let marks = self.keys.len();
        let access = match self.keys.get_mut(&hash) {
            Some(slot) => {
                let distance = marks - self.fenwick.prefix(slot.last);
                self.fenwick.add(slot.last, -1);
                slot.last = now;
                self.fenwick.add(now, 1);
                let scaled = distance as f64 / self.rate();
                self.hist[bin_of(scaled)] += 1.0;
                Access::Again
            }
            None => {
                self.cold += 1.0;
                self.insert_new(hash, now);
                Access::First
            }
        };
        (access, self.keys.get_mut(&hash).map(|s| &mut s.payload))
    }

    /// The payload of the key hashing to `hash`, added to the sample set if sampled and not
    /// there yet (as a write: it takes its place in the recency order, no access is counted).
    pub fn track(&mut self, hash: u64) -> Option<&mut R> {
        if !self.is_sampled(hash) {
            return None;
        }
        if !self.keys.contains_key(&hash) {
            let now = self.tick(hash);
            self.insert_new(hash, now);
        }
        self.keys.get_mut(&hash).map(|s| &mut s.payload)
    }

    /// The next mark of the clock (the tree compacted first when it is full), now `hash`'s.
    fn tick(&mut self, hash: u64) -> usize {
        if self.next_time == self.fenwick.len() {
            self.compact();
        }
        self.latest = Some(hash);
        let now = self.next_time;
        self.next_time += 1;
        now
    }

    /// Adds `hash` to the sample set with its mark at `now`, shrinking the set past its bound.
    fn insert_new(&mut self, hash: u64, now: usize) {
        self.keys.insert(
            hash,
            Slot {
                last: now,
                payload: R::default(),
            },
        );
        self.order.push(hash);
        self.fenwick.add(now, 1);
        if self.keys.len() > self.max_keys {
            self.shrink();
        }
    }

    /// The payload of the key hashing to `hash`, if it is in the sample set (no access counted).
    pub fn payload_mut(&mut self, hash: u64) -> Option<&mut R> {
        if !self.is_sampled(hash) {
            return None;
        }
        self.keys.get_mut(&hash).map(|s| &mut s.payload)
    }

    /// The estimated hit ratio of an LRU cache of `entries` entries; `None` before any access.
    pub fn hit_ratio(&self, entries: f64) -> Option<f64> {
        let hits: f64 = self
            .hist
            .iter()
            .enumerate()
            .map(|(i, w)| w * fraction_below(i, entries))
            .sum();
        let total = self.hist.iter().sum::<f64>() + self.cold;
        (total > 0.0).then(|| hits / total)
    }

    /// [`hit_ratio`](Self::hit_ratio) with the paper's SHARDS_adj correction, given the
    /// `requests` made to every key (sampled or not): the sample should have seen
    /// `requests x rate` of them; the difference (mostly the requests of a few very popular
    /// keys the hash did or did not pick) is counted at reuse distance 0, a hit at every size.
    pub fn hit_ratio_adjusted(&self, entries: f64, requests: u64) -> Option<f64> {
        let hits: f64 = self
            .hist
            .iter()
            .enumerate()
            .map(|(i, w)| w * fraction_below(i, entries))
            .sum();
        let seen = self.hist.iter().sum::<f64>() + self.cold;
        let expected = requests as f64 * self.rate();
        if expected <= 0.0 || seen <= 0.0 {
            return self.hit_ratio(entries);
        }
        Some(((hits + expected - seen) / expected).clamp(0.0, 1.0))
    }

    /// Drops the key with the largest hash and lowers the rate to exclude it, rescaling the
    /// histogram by new rate / old rate.
    fn shrink(&mut self) {
        let Some(hash) = self.order.pop() else {
            return;
        };
        let Some(slot) = self.keys.remove(&hash) else {
            return;
        };
        if self.latest == Some(hash) {
            self.latest = None;
        }
        self.fenwick.add(slot.last, -1);
        let factor = hash as f64 / self.threshold as f64;
        self.threshold = hash;
        for w in &mut self.hist {
            *w *= factor;
        }
        self.cold *= factor;
    }

    /// Renumbers the access times 0..n in their order (the tree has room for 4x the keys, so
    /// this runs at most once per 3x max_keys accesses).
    fn compact(&mut self) {
        let mut order: Vec<(usize, u64)> = self.keys.iter().map(|(h, s)| (s.last, *h)).collect();
        order.sort_unstable();
        self.fenwick.clear();
        for (t, (_, hash)) in order.iter().enumerate() {
            if let Some(slot) = self.keys.get_mut(hash) {
                slot.last = t;
            }
            self.fenwick.add(t, 1);
        }
        self.next_time = order.len();
    }
}

/// The histogram bin of a reuse distance: one bin per whole distance below [`LINEAR`], then
/// [`BINS_PER_OCTAVE`] bins per doubling.
fn bin_of(distance: f64) -> usize {
    if distance < LINEAR as f64 {
        return distance.max(0.0) as usize;
    }
    let k = LINEAR + ((distance.log2() - LINEAR_OCTAVES) * BINS_PER_OCTAVE).floor() as usize;
    k.min(BINS - 1)
}

/// The share of bin `i` below `entries`: a whole distance hits a cache larger than it; in the
/// logarithmic bins the distances are taken as spread evenly.
fn fraction_below(i: usize, entries: f64) -> f64 {
    if i < LINEAR {
        return if (i as f64) < entries { 1.0 } else { 0.0 };
    }
    let octave = |k: usize| ((k - LINEAR) as f64 / BINS_PER_OCTAVE + LINEAR_OCTAVES).exp2();
    let (lo, hi) = (octave(i), octave(i + 1));
    ((entries - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// A hasher for keys that are hashes already. Sampled hashes are below the threshold, so their
/// top bits are mostly zero: one multiply spreads them to the top bits the table's probe uses.
#[derive(Debug, Default)]
struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A Fenwick tree of counts over access times.
#[derive(Debug)]
struct Fenwick {
    tree: Vec<i32>,
}

impl Fenwick {
    fn new(len: usize) -> Self {
        Self {
            tree: vec![0; len + 1],
        }
    }

    fn len(&self) -> usize {
        self.tree.len() - 1
    }

    fn clear(&mut self) {
        self.tree.fill(0);
    }

    fn add(&mut self, at: usize, delta: i32) {
        let mut i = at + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over times 0..=at.
    fn prefix(&self, at: usize) -> usize {
        let mut i = at + 1;
        let mut sum = 0i64;
        while i > 0 {
            sum += i64::from(self.tree[i]);
            i -= i & i.wrapping_neg();
        }
        usize::try_from(sum).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn at_full_rate_the_distances_are_exact() {
        // A cyclic scan of 10 keys: every reuse distance is 9, so LRU hits from 10 entries on.
        let mut s: Shards = Shards::new(1_000, 1.0);
        for i in 0..1_000u64 {
            s.access(mix(i % 10));
        }
        let h9 = s.hit_ratio(9.0).unwrap();
        let h10 = s.hit_ratio(10.0).unwrap();
        assert!(h9 < 0.01, "{h9}");
        assert!(
            (h10 - 0.99).abs() < 1e-9,
            "990 of 1,000 accesses are reuses: {h10}"
        );
    }

    #[test]
    fn the_set_stays_bounded_and_the_rate_drops() {
        let mut s: Shards = Shards::new(100, 1.0);
        for i in 0..100_000u64 {
            s.access(mix(i % 5_000));
        }
        assert!(s.sampled_keys() <= 100);
        let rate = s.rate();
        assert!(rate > 0.01 && rate < 0.03, "about 100 / 5,000: {rate}");
        // The scan of 5,000 keys hits from 5,000 entries on; the estimate sees the step.
        assert!(s.hit_ratio(4_000.0).unwrap() < 0.1);
        assert!(s.hit_ratio(6_000.0).unwrap() > 0.9);
    }

    #[test]
    fn a_run_of_one_key_is_at_distance_zero() {
        // a a b a a: cold, 0, cold, 1, 0.
        let mut s: Shards = Shards::new(100, 1.0);
        let (a, b) = (mix(1), mix(2));
        let got: Vec<Access> = [a, a, b, a, a].iter().map(|h| s.access(*h).0).collect();
        assert_eq!(
            got,
            [
                Access::First,
                Access::Again,
                Access::First,
                Access::Again,
                Access::Again
            ]
        );
        assert!(
            (s.hit_ratio(1.0).unwrap() - 0.4).abs() < 1e-9,
            "the two repeats hit at 1"
        );
        assert!(
            (s.hit_ratio(2.0).unwrap() - 0.6).abs() < 1e-9,
            "and the return to a at 2"
        );
        assert_eq!(s.sampled_accesses(), 5);
    }

    #[test]
    fn compaction_keeps_the_distances() {
        let mut s: Shards = Shards::new(4, 1.0);
        // Far more accesses than the tree has times: compaction runs many times.
        for i in 0..10_000u64 {
            s.access(mix(i % 3));
        }
        assert!((s.hit_ratio(3.0).unwrap() - 0.9997).abs() < 1e-3);
        assert!(s.hit_ratio(2.0).unwrap() < 0.01);
    }
}
