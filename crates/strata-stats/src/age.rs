//! Age-at-hit buckets: how old served values are.

use serde::Serialize;

/// Upper bounds of the age buckets, in milliseconds, with their labels; older goes to "older".
pub(crate) const AGE_BUCKETS: [(u64, &str); 6] = [
    (60_000, "<1m"),
    (300_000, "<5m"),
    (900_000, "<15m"),
    (3_600_000, "<1h"),
    (21_600_000, "<6h"),
    (86_400_000, "<24h"),
];

/// Number of buckets including "older".
pub(crate) const AGE_BUCKET_COUNT: usize = AGE_BUCKETS.len() + 1;

pub(crate) fn bucket_of(age_ms: u64) -> usize {
    AGE_BUCKETS.partition_point(|(b, _)| *b <= age_ms)
}

pub(crate) fn label(i: usize) -> &'static str {
    AGE_BUCKETS.get(i).map_or("older", |(_, l)| l)
}

/// One bucket of the age distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AgeBucket {
    /// "<1m", "<5m", "<15m", "<1h", "<6h", "<24h" or "older".
    pub age: &'static str,
    /// Hits that served a value of that age.
    pub hits: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_land_in_their_bucket() {
        assert_eq!(label(bucket_of(0)), "<1m");
        assert_eq!(label(bucket_of(59_999)), "<1m");
        assert_eq!(label(bucket_of(60_000)), "<5m");
        assert_eq!(label(bucket_of(7_200_000)), "<6h");
        assert_eq!(label(bucket_of(100_000_000)), "older");
    }
}
