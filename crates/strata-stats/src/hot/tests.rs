use std::collections::{HashMap, HashSet};

use strata_keys::{Key, KeySpace};

use super::*;

/// A seeded Zipf(`s`) trace over `keys` keys: `len` key indices, rank 0 the most frequent.
pub(crate) fn zipf_trace(keys: usize, s: f64, len: usize, seed: u64) -> Vec<usize> {
    let mut cdf = Vec::with_capacity(keys);
    let mut sum = 0.0;
    for rank in 1..=keys {
        sum += 1.0 / (rank as f64).powf(s);
        cdf.push(sum);
    }
    let mut state = seed;
    (0..len)
        .map(|_| {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let u = (z >> 11) as f64 / (1u64 << 53) as f64 * sum;
            cdf.partition_point(|c| *c < u).min(keys - 1)
        })
        .collect()
}

fn keys(n: usize) -> Vec<Key> {
    let users = KeySpace::new("t", "v1").unwrap().kind("user").unwrap();
    (0..n).map(|i| users.key(i).unwrap()).collect()
}

/// The `n` most frequent keys of `trace` (exact).
fn true_top(trace: &[usize], n: usize) -> HashSet<usize> {
    let mut counts: HashMap<usize, u64> = HashMap::new();
    for k in trace {
        *counts.entry(*k).or_default() += 1;
    }
    let mut by_count: Vec<_> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_count.into_iter().take(n).map(|(k, _)| k).collect()
}

fn found(hot: &HotKeys, keys: &[Key], n: usize) -> HashSet<usize> {
    let index: HashMap<&Key, usize> = keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
    hot.hottest(n).iter().map(|h| index[&h.key]).collect()
}

#[test]
fn counts_are_exact_below_capacity() {
    let keys = keys(3);
    let hot = HotKeys::new(HotKeysConfig::new(8, 1));
    hot.record(&keys[0], 5);
    hot.record(&keys[1], 2);
    hot.record(&keys[2], 9);
    hot.record(&keys[1], 1);
    let top = hot.hottest(10);
    let got: Vec<(&str, u64, u64)> = top
        .iter()
        .map(|h| (h.key.as_str(), h.count, h.error))
        .collect();
    assert_eq!(
        got,
        [
            ("t:v1:user:s1:2", 9, 0),
            ("t:v1:user:s1:0", 5, 0),
            ("t:v1:user:s1:1", 3, 0)
        ]
    );
    assert_eq!(hot.hottest(1).len(), 1);
}

#[test]
fn a_new_key_takes_over_the_smallest_counter_with_its_count_as_error() {
    let keys = keys(3);
    let hot = HotKeys::new(HotKeysConfig::new(2, 1));
    hot.record(&keys[0], 10);
    hot.record(&keys[1], 3);
    hot.record(&keys[2], 1);
    let top = hot.hottest(2);
    assert_eq!(top[0].key, keys[0]);
    assert_eq!(
        (top[1].key.clone(), top[1].count, top[1].error),
        (keys[2].clone(), 4, 3)
    );
    assert_eq!(hot.len(), 2);
}

#[test]
fn finds_the_top_keys_of_a_seeded_zipf_trace_unsampled() {
    let keys = keys(10_000);
    let trace = zipf_trace(keys.len(), 0.9, 300_000, 7);
    let hot = HotKeys::new(HotKeysConfig::new(1024, 1));
    for k in &trace {
        hot.record(&keys[*k], 1);
    }
    assert_eq!(found(&hot, &keys, 10), true_top(&trace, 10));
    let truth = true_top(&trace, 100);
    let recall = found(&hot, &keys, 100).intersection(&truth).count();
    assert!(recall >= 95, "{recall} of the true top 100");
    // Space-Saving's guarantee: each estimate is within its error of the true count.
    let mut exact: HashMap<&Key, u64> = HashMap::new();
    for k in &trace {
        *exact.entry(&keys[*k]).or_default() += 1;
    }
    for h in hot.hottest(1024) {
        let t = exact[&h.key];
        assert!(h.count >= t && h.count - h.error <= t, "{h:?} true {t}");
    }
}

#[test]
fn finds_the_top_keys_of_a_seeded_zipf_trace_sampled() {
    let keys = keys(10_000);
    let trace = zipf_trace(keys.len(), 0.9, 1_000_000, 11);
    // The defaults: 1,024 counters, one lookup in 16 (sampling is random: the bounds have a
    // margin: 30 runs found 93 to 96 of them in hottest(100), at least 97 in hottest(200)).
    let hot = HotKeys::new(HotKeysConfig::default());
    for k in &trace {
        hot.offer(&keys[*k]);
    }
    let truth = true_top(&trace, 100);
    let recall = found(&hot, &keys, 100).intersection(&truth).count();
    assert!(recall >= 85, "{recall} of the true top 100 in hottest(100)");
    let recall = found(&hot, &keys, 200).intersection(&truth).count();
    assert!(recall >= 97, "{recall} of the true top 100 in hottest(200)");
    assert_eq!(found(&hot, &keys, 5), true_top(&trace, 5));
    // Sampled counts are in lookups: the hottest key's estimate is near its true count.
    let top = &hot.hottest(1)[0];
    let t = trace.iter().filter(|k| keys[**k] == top.key).count() as f64;
    let ratio = top.count as f64 / t;
    assert!(
        (0.8..1.25).contains(&ratio),
        "estimate {} true {t}",
        top.count
    );
}

#[test]
fn decay_halves_counts_and_drops_the_zeroed() {
    let keys = keys(3);
    let hot = HotKeys::new(HotKeysConfig::new(4, 1));
    hot.record(&keys[0], 8);
    hot.record(&keys[1], 1);
    hot.record(&keys[2], 3);
    hot.decay();
    let got: Vec<u64> = hot.hottest(4).iter().map(|h| h.count).collect();
    assert_eq!(got, [4, 1]);
    // The heap is still a heap: a new key replaces the smallest.
    hot.record(&keys[1], 1);
    hot.record(&keys[1], 5);
    assert_eq!(hot.hottest(1)[0].key, keys[1]);
    hot.clear();
    assert!(hot.is_empty());
}

#[test]
fn sampling_records_about_one_lookup_in_n() {
    let keys = keys(1);
    let hot = HotKeys::new(HotKeysConfig::new(4, 16));
    for _ in 0..160_000 {
        hot.offer(&keys[0]);
    }
    let count = hot.hottest(1)[0].count;
    assert!((144_000..=176_000).contains(&count), "{count}");
}
