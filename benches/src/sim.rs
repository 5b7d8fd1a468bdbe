//! Hit-ratio simulation: request traces, the eviction policies, and Bélády's optimum.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use strata_eviction::{EvictionPolicy, Evictor, Limits};

/// A named request trace over keys `0..keys`.
#[derive(Debug, Clone)]
pub struct Trace {
    /// What it models.
    pub name: String,
    /// Distinct keys.
    pub keys: u64,
    /// The requested keys, in order.
    pub requests: Vec<u64>,
}

/// Zipf-distributed ranks in `0..n` (inverse-CDF sampling over precomputed weights).
fn zipf_sampler(n: u64, s: f64) -> impl Fn(&mut SmallRng) -> u64 {
    let mut cdf = Vec::with_capacity(n as usize);
    let mut total = 0.0;
    for rank in 1..=n {
        total += 1.0 / (rank as f64).powf(s);
        cdf.push(total);
    }
    move |rng: &mut SmallRng| {
        let u = rng.random::<f64>() * total;
        cdf.partition_point(|c| *c < u) as u64
    }
}

/// A seeded permutation of `0..keys` (Fisher–Yates): `perm[rank]` is the key of that rank.
/// Every key is the image of exactly one rank, whatever `keys` is.
pub fn permutation(keys: u64, rng: &mut SmallRng) -> Vec<u64> {
    let mut perm: Vec<u64> = (0..keys).collect();
    perm.shuffle(rng);
    perm
}

/// Keys drawn from a Zipf(s) popularity over `0..keys`; ranks map to keys through a seeded
/// permutation, so popularity is not id order and every key keeps its own rank.
pub fn zipf(keys: u64, s: f64, len: usize, seed: u64) -> Trace {
    let mut rng = SmallRng::seed_from_u64(seed);
    let sample = zipf_sampler(keys, s);
    let perm = permutation(keys, &mut rng);
    Trace {
        name: format!("zipf {s}"),
        keys,
        requests: (0..len).map(|_| perm[sample(&mut rng) as usize]).collect(),
    }
}

/// Zipf(0.9) traffic interrupted every 5,000 requests by a sequential scan of 1,000 cold keys.
pub fn scan_polluted(keys: u64, len: usize, seed: u64) -> Trace {
    let base = zipf(keys, 0.9, len, seed);
    let mut requests = Vec::with_capacity(len);
    let mut cold = keys;
    for (i, k) in base.requests.into_iter().enumerate() {
        if i > 0 && i % 5000 == 0 {
            for _ in 0..1000 {
                requests.push(cold);
                cold += 1;
            }
        }
        requests.push(k);
        if requests.len() >= len {
            break;
        }
    }
    Trace {
        name: "zipf 0.9 + scans".into(),
        keys: cold,
        requests,
    }
}

/// Zipf(0.9) over a working set that shifts to new keys every `len / 4` requests.
pub fn shifting(keys: u64, len: usize, seed: u64) -> Trace {
    let base = zipf(keys, 0.9, len, seed);
    let phase = (len / 4).max(1);
    Trace {
        name: "shifting working set".into(),
        keys: keys * 4,
        requests: base
            .requests
            .into_iter()
            .enumerate()
            .map(|(i, k)| k + keys * (i / phase) as u64)
            .collect(),
    }
}

/// Hits of one of our policies with room for `capacity` entries. For the TTL policy each key
/// gets a stable TTL between 1 and 10,000 requests (from its id), re-armed on each miss.
pub fn hits_with(policy: EvictionPolicy, capacity: u64, trace: &Trace, seed: u64) -> u64 {
    let mut ev = Evictor::with_seed(policy, Limits::default().with_max_entries(capacity), seed);
    let mut hits = 0;
    for (t, &k) in trace.requests.iter().enumerate() {
        let now = t as u64;
        if ev.expires_at(&k).is_some_and(|e| e <= now) {
            ev.remove(&k);
        }
        if ev.touch(&k) {
            hits += 1;
        } else {
            let ttl = 1 + k.wrapping_mul(0x2545_F491_4F6C_DD1D) % 10_000;
            let expires = (policy == EvictionPolicy::Ttl).then_some(now + ttl);
            let _ = ev.insert(k, 1, expires);
        }
    }
    hits
}

/// Hits of moka (TinyLFU admission + LRU eviction) with room for `capacity` entries.
pub fn hits_moka(capacity: u64, trace: &Trace) -> u64 {
    let cache: moka::sync::Cache<u64, ()> = moka::sync::Cache::new(capacity);
    let mut hits = 0;
    for (i, &k) in trace.requests.iter().enumerate() {
        if cache.get(&k).is_some() {
            hits += 1;
        } else {
            cache.insert(k, ());
        }
        if i % 64 == 0 {
            cache.run_pending_tasks();
        }
    }
    hits
}

/// Hits of Bélády's optimal policy (evict the key used farthest in the future), computed
/// offline: the upper bound of any policy.
pub fn hits_optimal(capacity: u64, trace: &Trace) -> u64 {
    let n = trace.requests.len();
    let mut next_use = vec![usize::MAX; n];
    let mut last: HashMap<u64, usize> = HashMap::new();
    for i in (0..n).rev() {
        let k = trace.requests[i];
        next_use[i] = last.get(&k).copied().unwrap_or(usize::MAX);
        last.insert(k, i);
    }
    let mut by_next: BTreeSet<(usize, u64)> = BTreeSet::new();
    let mut current: HashMap<u64, usize> = HashMap::new();
    let mut hits = 0;
    for (i, &k) in trace.requests.iter().enumerate() {
        if let Some(old) = current.remove(&k) {
            hits += 1;
            by_next.remove(&(old, k));
        } else if current.len() as u64 >= capacity
            && let Some(&(far, victim)) = by_next.iter().next_back()
        {
            // Not caching the new key is as good when it is needed even later.
            if far < next_use[i] {
                continue;
            }
            by_next.remove(&(far, victim));
            current.remove(&victim);
        }
        current.insert(k, next_use[i]);
        by_next.insert((next_use[i], k));
    }
    hits
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn trace(requests: &[u64]) -> Trace {
        Trace {
            name: "t".into(),
            keys: 10,
            requests: requests.to_vec(),
        }
    }

    #[test]
    fn belady_is_optimal_on_a_known_trace() {
        // Capacity 2: a b c a b c ... LRU never hits; the optimum keeps one of each pair.
        let t = trace(&[0, 1, 2, 0, 1, 2, 0, 1, 2]);
        assert_eq!(hits_with(EvictionPolicy::Lru, 2, &t, 1), 0);
        assert_eq!(hits_optimal(2, &t), 4);
        // Everything fits: every repeat hits.
        assert_eq!(hits_optimal(3, &t), 6);
    }

    #[test]
    fn the_rank_to_key_map_is_a_permutation() {
        let mut rng = SmallRng::seed_from_u64(1);
        for keys in [1, 2, 1000, 10_000] {
            let mut image = permutation(keys, &mut rng);
            image.sort_unstable();
            assert_eq!(image, (0..keys).collect::<Vec<_>>(), "{keys} keys");
        }
    }

    #[test]
    fn a_trace_uses_every_key_it_claims() {
        // 1,000 keys, Zipf 0.9: the rarest key has p ≈ 1.9e-4, about 38 expected requests
        // in 200,000, so every key appears.
        for t in [zipf(1000, 0.9, 200_000, 3), shifting(1000, 800_000, 5)] {
            let distinct: BTreeSet<u64> = t.requests.iter().copied().collect();
            assert!(
                distinct.iter().all(|&k| k < t.keys),
                "{}: a key out of range",
                t.name
            );
            assert_eq!(distinct.len() as u64, t.keys, "{}: distinct keys", t.name);
        }
    }

    /// An exact LRU: an ordered map from last access to key, and each key's last access.
    fn reference_lru_hits(capacity: usize, trace: &Trace) -> u64 {
        let mut by_time: BTreeMap<usize, u64> = BTreeMap::new();
        let mut last: HashMap<u64, usize> = HashMap::new();
        let mut hits = 0;
        for (t, &k) in trace.requests.iter().enumerate() {
            if let Some(old) = last.insert(k, t) {
                hits += 1;
                by_time.remove(&old);
            } else if last.len() > capacity {
                let (_, victim) = by_time.pop_first().expect("a full cache has an oldest key");
                last.remove(&victim);
            }
            by_time.insert(t, k);
        }
        hits
    }

    #[test]
    fn the_lru_column_equals_an_exact_lru() {
        for t in [
            zipf(10_000, 0.9, 100_000, 2),
            scan_polluted(2000, 50_000, 4),
        ] {
            for cap in [1, 100, 1000] {
                assert_eq!(
                    hits_with(EvictionPolicy::Lru, cap, &t, 7),
                    reference_lru_hits(cap as usize, &t),
                    "{} cap {cap}",
                    t.name
                );
            }
        }
    }

    #[test]
    fn no_policy_beats_the_optimum() {
        for t in [
            zipf(1000, 0.9, 20_000, 3),
            scan_polluted(1000, 20_000, 4),
            shifting(500, 20_000, 5),
        ] {
            for cap in [10, 100] {
                let best = hits_optimal(cap, &t);
                for p in [
                    EvictionPolicy::Lru,
                    EvictionPolicy::Random,
                    EvictionPolicy::Ttl,
                ] {
                    assert!(hits_with(p, cap, &t, 9) <= best, "{} {p} cap {cap}", t.name);
                }
                assert!(hits_moka(cap, &t) <= best, "{} moka cap {cap}", t.name);
            }
        }
    }
}
