//! The offline checker: a read is stale at window `W` when the version it returned had been
//! superseded by a write whose invalidation completed more than `W` before the read began.

use std::collections::HashMap;

use super::log::{ReadRec, WriteRec};

/// What the checker found in a set of reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Reads checked.
    pub(crate) reads: u64,
    /// Stale reads per window, in the order of the windows given.
    pub(crate) stale: Vec<u64>,
    /// The oldest staleness seen: how long before its start the version a read returned had
    /// been superseded (an invalidation completed), in ns; `None` when no read was stale at 0.
    pub(crate) oldest_ns: Option<u64>,
    /// Start times of the reads stale at the widest window (to place them against the faults).
    pub(crate) stale_starts: Vec<u64>,
}

impl Verdict {
    /// −log10 of the stale fraction at window `i`, or "all" when none was stale.
    pub(crate) fn nines(&self, i: usize) -> String {
        nines(self.stale[i], self.reads)
    }
}

/// −log10(stale / reads), one decimal; "all" when nothing was stale, "-" without reads.
pub(crate) fn nines(stale: u64, reads: u64) -> String {
    if reads == 0 {
        "-".into()
    } else if stale == 0 {
        "all".into()
    } else {
        format!("{:.1}", (reads as f64 / stale as f64).log10())
    }
}

/// For each record, its written versions in order and, for each, the earliest completion of
/// an invalidation of that version or a later one.
pub(crate) struct Checker {
    superseded: HashMap<u32, Vec<(u64, u64)>>,
}

impl Checker {
    /// The history of `writes`; writes whose invalidation did not complete supersede nothing.
    pub(crate) fn new(writes: &[WriteRec]) -> Self {
        let mut by_record: HashMap<u32, Vec<(u64, u64)>> = HashMap::new();
        for w in writes {
            if let Some(done) = w.done {
                by_record
                    .entry(w.record)
                    .or_default()
                    .push((w.version, done));
            }
        }
        for list in by_record.values_mut() {
            list.sort_unstable();
            // Suffix minimum: version i is superseded once any write of a version >= i is done.
            let mut min = u64::MAX;
            for entry in list.iter_mut().rev() {
                min = min.min(entry.1);
                entry.1 = min;
            }
        }
        Self {
            superseded: by_record,
        }
    }

    /// When a read answering `version` of `record` became stale: the earliest completed
    /// invalidation of a later version, if any.
    pub(crate) fn superseded_at(&self, record: u32, version: u64) -> Option<u64> {
        let list = self.superseded.get(&record)?;
        let i = list.partition_point(|(v, _)| *v <= version);
        list.get(i).map(|(_, at)| *at)
    }

    /// Checks `reads` at each window in `windows_ns`.
    pub(crate) fn check(&self, reads: &[ReadRec], windows_ns: &[u64]) -> Verdict {
        let widest = windows_ns.iter().copied().max().unwrap_or(0);
        let mut verdict = Verdict {
            reads: reads.len() as u64,
            stale: vec![0; windows_ns.len()],
            oldest_ns: None,
            stale_starts: Vec::new(),
        };
        for r in reads {
            let Some(at) = self.superseded_at(r.record, r.version) else {
                continue;
            };
            if r.start <= at {
                continue;
            }
            let age = r.start - at;
            verdict.oldest_ns = Some(verdict.oldest_ns.map_or(age, |o| o.max(age)));
            for (i, w) in windows_ns.iter().enumerate() {
                if age > *w {
                    verdict.stale[i] += 1;
                }
            }
            if age > widest {
                verdict.stale_starts.push(r.start);
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const WINDOWS: [u64; 3] = [0, 10 * MS, 100 * MS];

    fn read(record: u32, version: u64, start_ms: u64) -> ReadRec {
        ReadRec {
            record,
            version,
            start: start_ms * MS,
            end: start_ms * MS + 1,
        }
    }

    fn write(record: u32, version: u64, done_ms: Option<u64>) -> WriteRec {
        WriteRec {
            record,
            version,
            start: 0,
            done: done_ms.map(|d| d * MS),
            flags: 0,
        }
    }

    #[test]
    fn a_read_after_the_invalidation_that_returns_the_old_version_is_stale() {
        let checker = Checker::new(&[write(1, 1, Some(1000))]);
        let v = checker.check(&[read(1, 0, 1500)], &WINDOWS);
        assert_eq!(v.reads, 1);
        assert_eq!(v.stale, vec![1, 1, 1]);
        assert_eq!(v.oldest_ns, Some(500 * MS));
        assert_eq!(v.stale_starts, vec![1500 * MS]);
        assert_eq!(v.nines(2), "0.0");
    }

    #[test]
    fn a_read_inside_the_window_counts_only_at_smaller_windows() {
        let checker = Checker::new(&[write(1, 1, Some(1000))]);
        // 5 ms after: stale at W = 0 only; 50 ms after: at 0 and 10 ms.
        let v = checker.check(&[read(1, 0, 1005), read(1, 0, 1050)], &WINDOWS);
        assert_eq!(v.stale, vec![2, 1, 0]);
        assert_eq!(v.oldest_ns, Some(50 * MS));
        assert!(v.stale_starts.is_empty());
    }

    #[test]
    fn reads_before_the_invalidation_completed_and_current_reads_are_not_stale() {
        let checker = Checker::new(&[write(1, 1, Some(1000)), write(1, 2, Some(2000))]);
        let reads = [
            read(1, 0, 999),  // began before the invalidation completed
            read(1, 0, 1000), // began as it completed
            read(1, 1, 1500), // the current version
            read(1, 2, 2500), // the newest
            read(2, 0, 9000), // another record, never written
        ];
        let v = checker.check(&reads, &WINDOWS);
        assert_eq!(v.stale, vec![0, 0, 0]);
        assert_eq!(v.oldest_ns, None);
        assert_eq!(v.nines(0), "all");
    }

    #[test]
    fn a_later_write_completing_first_supersedes_older_versions_from_its_completion() {
        // Version 2's invalidation completed before version 1's: version 0 is superseded from
        // 1200 ms (the earliest completion among later versions), not from 1900 ms.
        let checker = Checker::new(&[write(1, 1, Some(1900)), write(1, 2, Some(1200))]);
        assert_eq!(checker.superseded_at(1, 0), Some(1200 * MS));
        assert_eq!(checker.superseded_at(1, 1), Some(1200 * MS));
        assert_eq!(checker.superseded_at(1, 2), None);
        let v = checker.check(&[read(1, 1, 1250)], &WINDOWS);
        assert_eq!(v.stale, vec![1, 1, 0]);
    }

    #[test]
    fn a_write_whose_invalidation_failed_supersedes_nothing() {
        let checker = Checker::new(&[write(1, 1, None)]);
        let v = checker.check(&[read(1, 0, 5000)], &WINDOWS);
        assert_eq!(v.stale, vec![0, 0, 0]);
    }

    #[test]
    fn nines_are_minus_log10_of_the_stale_fraction() {
        assert_eq!(nines(0, 1_000_000), "all");
        assert_eq!(nines(1, 100_000), "5.0");
        assert_eq!(nines(211, 25_287), "2.1");
        assert_eq!(nines(0, 0), "-");
    }
}
