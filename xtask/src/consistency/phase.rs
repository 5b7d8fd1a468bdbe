//! The phases of a run (without faults, then one fault each), their schedules, and what is
//! computed from a phase's logs.

use std::time::Duration;

use super::checker::{Checker, Verdict};
use super::faults::Killed;
use super::foreign::is_foreign;
use super::log::{DEFERRED, FAILED, FOREIGN_DEL, FOREIGN_SET, ReadRec, WriteRec};
use super::world::Injection;

pub(crate) const MS: u64 = 1_000_000;
/// The windows W reads are checked at.
pub(crate) const WINDOWS: [u64; 3] = [0, 10 * MS, 100 * MS];

/// The workload's sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) instances: u32,
    pub(crate) records: u32,
    /// Reads of the phase without faults, over all instances.
    pub(crate) reads: u64,
    /// Reads per second over all instances.
    pub(crate) rate: u64,
    /// Writes per second of each instance.
    pub(crate) writes: u64,
    /// Writes per second of the foreign writer.
    pub(crate) foreign: u64,
    /// Length of each phase with faults.
    pub(crate) fault_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    NoFaults,
    RedisRestart,
    KillConnections,
    PauseWrite,
    PauseAll,
    StopInstance,
}

pub(crate) const PHASES: [Phase; 6] = [
    Phase::NoFaults,
    Phase::KillConnections,
    Phase::PauseWrite,
    Phase::PauseAll,
    Phase::StopInstance,
    Phase::RedisRestart,
];

impl Phase {
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Phase::NoFaults => "no-faults",
            Phase::RedisRestart => "redis-restart",
            Phase::KillConnections => "kill-connections",
            Phase::PauseWrite => "pause-write",
            Phase::PauseAll => "pause-all",
            Phase::StopInstance => "sigstop-instance",
        }
    }

    /// What the phase does, for the report (`cluster` says whether it runs on a cluster).
    pub(crate) fn describe(self, cluster: bool) -> &'static str {
        match (self, cluster) {
            (Phase::NoFaults, _) => "no faults",
            (Phase::RedisRestart, false) => "redis-server killed and restarted empty, once",
            (Phase::RedisRestart, true) => "a primary killed (its replica takes over), once",
            (Phase::KillConnections, _) => {
                "coherence connections killed every 3 s (pub/sub by type, tracking/bus by name → ID)"
            }
            (Phase::PauseWrite, _) => "CLIENT PAUSE 300 WRITE every 3 s",
            (Phase::PauseAll, _) => "CLIENT PAUSE 300 ALL every 3 s",
            (Phase::StopInstance, _) => "an instance SIGSTOPped for 1 s every 4 s (in turn)",
        }
    }

    /// (reads over all instances, 0 for none; seconds) the phase runs for.
    pub(crate) fn bounds(self, s: &Settings) -> (u64, f64) {
        match self {
            // Time cap: twice the time the reads should take at the rate, plus 10 s.
            Phase::NoFaults => (s.reads, s.reads as f64 / s.rate.max(1) as f64 * 2.0 + 10.0),
            _ => (0, s.fault_seconds),
        }
    }

    pub(crate) fn first_fault(self, s: &Settings) -> Duration {
        match self {
            Phase::RedisRestart => Duration::from_secs_f64(s.fault_seconds / 3.0),
            _ => Duration::from_secs(1),
        }
    }

    pub(crate) fn period(self) -> Duration {
        match self {
            Phase::StopInstance => Duration::from_secs(4),
            _ => Duration::from_secs(3),
        }
    }

    /// How many times the fault is injected at most.
    pub(crate) fn rounds(self, s: &Settings) -> u32 {
        match self {
            Phase::NoFaults => 0,
            Phase::RedisRestart => 1,
            // None closer than a period to the end, so each is seen through.
            _ => ((s.fault_seconds - 1.0) / self.period().as_secs_f64())
                .floor()
                .max(1.0) as u32,
        }
    }
}

/// What a phase logged.
#[derive(Default)]
pub(crate) struct PhaseLogs {
    pub(crate) started: u64,
    pub(crate) ended: u64,
    pub(crate) reads: Vec<ReadRec>,
    pub(crate) writes: Vec<WriteRec>,
    /// Per instance: (time, status) each time its coherence status changed.
    pub(crate) events: Vec<Vec<(u64, String)>>,
    pub(crate) injections: Vec<Injection>,
    pub(crate) killed: Killed,
    pub(crate) loads: u64,
    pub(crate) read_errors: u64,
}

/// How fast the instances noticed the faults: for each injection and each instance, the time
/// to its first status change after it (within the injection's window), or a miss; for a
/// SIGSTOP only the stopped instance, from its resumption. And how fast killed connections
/// were back.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Detection {
    pub(crate) samples_ns: Vec<u64>,
    pub(crate) missed: usize,
    pub(crate) reconnected_ns: Vec<u64>,
}

impl Detection {
    pub(crate) fn of(logs: &PhaseLogs) -> Self {
        let mut d = Self::default();
        for (k, inj) in logs.injections.iter().enumerate() {
            let until = logs.injections.get(k + 1).map_or(logs.ended, |n| n.at);
            for (i, events) in logs.events.iter().enumerate() {
                let from = match inj.stopped {
                    Some((stopped, resumed)) if stopped == i as u32 => resumed,
                    Some(_) => continue,
                    None => inj.at,
                };
                match events.iter().find(|(t, _)| *t > from && *t < until) {
                    Some((t, _)) => d.samples_ns.push(t - from),
                    None => d.missed += 1,
                }
            }
            d.reconnected_ns.extend(inj.reconnected_ns);
        }
        d.samples_ns.sort_unstable();
        d.reconnected_ns.sort_unstable();
        d
    }

    /// "n/m, median X ms, max Y ms", or "-" without injections.
    pub(crate) fn summary(&self) -> String {
        let total = self.samples_ns.len() + self.missed;
        if total == 0 {
            return "-".into();
        }
        let ms = |ns: u64| ns as f64 / MS as f64;
        let median_max = |v: &[u64]| (ms(v[v.len() / 2]), ms(v[v.len() - 1]));
        let mut s = if self.samples_ns.is_empty() {
            format!("0/{total}")
        } else {
            let (m, x) = median_max(&self.samples_ns);
            format!(
                "{}/{total}; median {m:.0} ms, max {x:.0} ms",
                self.samples_ns.len()
            )
        };
        if !self.reconnected_ns.is_empty() {
            let (m, x) = median_max(&self.reconnected_ns);
            s.push_str(&format!(
                "; reconnected after median {m:.0} ms, max {x:.0} ms"
            ));
        }
        s
    }
}

/// A phase's figures.
pub(crate) struct Row {
    pub(crate) phase: Phase,
    pub(crate) verdict: Verdict,
    /// The reads of the foreign writer's records only.
    pub(crate) foreign: Verdict,
    pub(crate) instance_writes: usize,
    pub(crate) foreign_dels: usize,
    pub(crate) foreign_sets: usize,
    pub(crate) deferred: usize,
    pub(crate) failed: usize,
    pub(crate) injections: usize,
    pub(crate) detection: Detection,
    pub(crate) killed: Killed,
    pub(crate) loads: u64,
    pub(crate) read_errors: u64,
    pub(crate) seconds: f64,
}

impl Row {
    /// Checks `logs` against `history` (every write of the run so far).
    pub(crate) fn of(phase: Phase, logs: &PhaseLogs, history: &[WriteRec]) -> Self {
        let checker = Checker::new(history);
        let foreign_reads: Vec<ReadRec> = logs
            .reads
            .iter()
            .filter(|r| is_foreign(r.record))
            .copied()
            .collect();
        let count = |f: &dyn Fn(&WriteRec) -> bool| logs.writes.iter().filter(|w| f(w)).count();
        Self {
            phase,
            verdict: checker.check(&logs.reads, &WINDOWS),
            foreign: checker.check(&foreign_reads, &WINDOWS),
            instance_writes: count(&|w| w.flags & (FOREIGN_DEL | FOREIGN_SET) == 0),
            foreign_dels: count(&|w| w.flags & FOREIGN_DEL != 0),
            foreign_sets: count(&|w| w.flags & FOREIGN_SET != 0),
            deferred: count(&|w| w.flags & DEFERRED != 0),
            failed: count(&|w| w.flags & FAILED != 0),
            injections: logs.injections.len(),
            detection: Detection::of(logs),
            killed: logs.killed,
            loads: logs.loads,
            read_errors: logs.read_errors,
            seconds: logs.ended.saturating_sub(logs.started) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_takes_each_instances_first_change_after_each_injection() {
        let logs = PhaseLogs {
            ended: 100 * MS,
            events: vec![
                vec![
                    (5 * MS, "a".into()),
                    (12 * MS, "b".into()),
                    (60 * MS, "c".into()),
                ],
                vec![(70 * MS, "x".into())],
            ],
            injections: vec![
                Injection {
                    at: 10 * MS,
                    ..Injection::default()
                },
                Injection {
                    at: 50 * MS,
                    stopped: Some((1, 55 * MS)),
                    reconnected_ns: Some(3 * MS),
                },
            ],
            ..PhaseLogs::default()
        };
        let d = Detection::of(&logs);
        // Injection 1: instance 0 after 2 ms, instance 1 not before the next injection;
        // injection 2 stopped instance 1, resumed at 55 ms: it changed 15 ms later (instance 0
        // is not counted).
        assert_eq!(d.samples_ns, vec![2 * MS, 15 * MS]);
        assert_eq!(d.missed, 1);
        assert_eq!(d.reconnected_ns, vec![3 * MS]);
        assert_eq!(
            d.summary(),
            "2/3; median 15 ms, max 15 ms; reconnected after median 3 ms, max 3 ms"
        );
    }
}
