//! The figures derived at snapshot time (miss causes, loader time saved, entry sizes, the
//! miss-ratio curve), published to the `metrics` recorder. Bounded: labels are kinds, tiers,
//! causes and curve sizes, never keys.

use std::collections::BTreeMap;

use crate::kind::KindSnapshot;

/// Sets the derived figures of every kind in `kinds`.
pub(crate) fn publish(kinds: &BTreeMap<String, KindSnapshot>) {
    for (kind, k) in kinds {
        publish_kind(kind, k);
    }
}

fn publish_kind(kind: &str, k: &KindSnapshot) {
    for (tier, causes) in [("l1", &k.misses_by_cause.l1), ("l2", &k.misses_by_cause.l2)] {
        for (cause, n) in &causes.causes {
            metrics::counter!("strata_cache_misses_by_cause_total", "kind" => kind.to_owned(),
                              "tier" => tier, "cause" => cause.clone())
            .absolute(*n);
        }
    }
    metrics::gauge!("strata_cache_load_time_saved_seconds", "kind" => kind.to_owned())
        .set(k.load_time_saved_ms as f64 / 1_000.0);
    if k.entries.entries > 0 {
        metrics::gauge!("strata_cache_entry_mean_bytes", "kind" => kind.to_owned())
            .set(k.entries.mean_bytes as f64);
        for b in &k.entries.sizes {
            metrics::gauge!("strata_cache_entries_by_size", "kind" => kind.to_owned(),
                            "size" => b.size)
            .set(b.entries as f64);
        }
        for b in &k.entries.age_in_l2 {
            metrics::gauge!("strata_cache_l2_entries_by_age", "kind" => kind.to_owned(),
                            "age" => b.age)
            .set(b.entries as f64);
        }
    }
    if let Some(curve) = &k.mrc {
        for p in &curve.points {
            if let Some(h) = p.hit_ratio {
                metrics::gauge!("strata_cache_lru_hit_ratio_estimate", "kind" => kind.to_owned(),
                                "size" => format!("{}x", p.multiple))
                .set(h);
            }
        }
        metrics::gauge!("strata_cache_mrc_sample_rate", "kind" => kind.to_owned())
            .set(curve.sample_rate);
    }
}
