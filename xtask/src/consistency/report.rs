//! The consistency report: one table per topology, a row per (mode, phase), totals over the
//! phases with faults, and the goals met or missed.

use std::fmt::Write as _;

use super::checker::nines;
use super::phase::{MS, Phase, Row, Settings};
use super::world::Topology;

/// All the rows of one (topology, mode).
pub(crate) struct Run {
    pub(crate) topology: Topology,
    /// The coherence mode, and any setting changed from the defaults.
    pub(crate) label: String,
    pub(crate) rows: Vec<Row>,
}

fn ms(ns: Option<u64>) -> String {
    ns.map_or("-".into(), |n| format!("{:.0} ms", n as f64 / MS as f64))
}

const HEADER: &str = "| mode | phase | s | reads | writes: instances / foreign DEL / foreign SET | deferred / failed | stale W=0 | W=10 ms | W=100 ms | nines W=0 | nines W=100 ms | oldest | instance-written records: stale W=100 ms | foreign records: reads, stale W=100 ms | faults detected (instance × injection) | DB loads | read errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

fn row(md: &mut String, mode: &str, r: &Row, cluster: bool) {
    let v = &r.verdict;
    let mut phase = r.phase.describe(cluster).to_owned();
    if r.injections > 0 {
        let _ = write!(phase, ": {} injections", r.injections);
    }
    if r.phase == Phase::KillConnections {
        let k = r.killed;
        let _ = write!(
            phase,
            ", killed {} pub/sub, {} tracking, {} bus by name",
            k.pubsub, k.tracking, k.bus_named
        );
    }
    let _ = writeln!(
        md,
        "| {mode} | {phase} | {:.0} | {} | {} / {} / {} | {} / {} | {} | {} | {} | {} | {} | {} | {} | {}, {} | {} | {} | {} |",
        r.seconds,
        v.reads,
        r.instance_writes,
        r.foreign_dels,
        r.foreign_sets,
        r.deferred,
        r.failed,
        v.stale[0],
        v.stale[1],
        v.stale[2],
        v.nines(0),
        v.nines(2),
        ms(v.oldest_ns),
        v.stale[2] - r.foreign.stale[2],
        r.foreign.reads,
        r.foreign.stale[2],
        r.detection.summary(),
        r.loads,
        r.read_errors
    );
}

/// Reads of the foreign writer's records over the phases with faults.
fn foreign_reads(rows: &[Row]) -> u64 {
    rows.iter()
        .filter(|r| r.phase != Phase::NoFaults)
        .map(|r| r.foreign.reads)
        .sum()
}

/// (reads, stale per window, oldest, stale reads of foreign records at W = 100 ms) over the
/// phases with faults.
fn fault_totals(rows: &[Row]) -> (u64, [u64; 3], Option<u64>, u64) {
    let (mut reads, mut stale, mut oldest, mut foreign_stale) = (0, [0; 3], None, 0);
    for r in rows.iter().filter(|r| r.phase != Phase::NoFaults) {
        reads += r.verdict.reads;
        for (i, s) in stale.iter_mut().enumerate() {
            *s += r.verdict.stale[i];
        }
        oldest = oldest.max(r.verdict.oldest_ns);
        foreign_stale += r.foreign.stale[2];
    }
    (reads, stale, oldest, foreign_stale)
}

pub(crate) fn markdown(runs: &[Run], s: &Settings, notes: &[String], header: &str) -> String {
    let mut md = format!(
        "# Consistency report\n\n{header}\n\n\
         {} instances in separate processes (each its own L1, default settings), a SQLite source with a version per record \
         ({} records), {} reads/s over all instances (`get_or_load`), {} writes/s per instance (source updated, then \
         `invalidate` through the rules), and a foreign writer at {} writes/s straight into Redis on the records `9 mod 10` \
         (half `DEL` of the entry and its lease, half `SET` of the new value in the wire format). The phase without faults \
         runs {} reads; each phase with faults {} s. A read is stale at W when the version it returned had been superseded \
         by a write whose invalidation completed (the call returned) more than W before the read began; nines = \
         −log10(stale / reads). Fault detection: for each injection and each instance (not the one stopped), the first \
         change of the instance's observable coherence status (coherence verified or lapsed, bus subscription and flushes, deferred changes, breaker) \
         after it, polled every 2 ms; for a SIGSTOP, the stopped instance's own first change after it was resumed. A lost \
         tracking connection flushes L1 but moves no public statistic, so for killed connections the report also gives \
         the time until every killed coherence connection (and after a restart, every one) was back in `CLIENT LIST` (polled every 2 ms).\n",
        s.instances, s.records, s.rate, s.writes, s.foreign, s.reads, s.fault_seconds
    );
    for note in notes {
        let _ = writeln!(md, "\n**Note:** {note}");
    }
    for topology in [Topology::Single, Topology::Cluster] {
        let of_topology: Vec<&Run> = runs.iter().filter(|r| r.topology == topology).collect();
        if of_topology.is_empty() {
            continue;
        }
        let cluster = topology == Topology::Cluster;
        let _ = write!(md, "\n## {}\n\n{HEADER}", topology.name());
        for run in &of_topology {
            for r in &run.rows {
                row(&mut md, &run.label, r, cluster);
            }
            let (reads, stale, oldest, foreign) = fault_totals(&run.rows);
            let _ = writeln!(
                md,
                "| **{}** | **all phases with faults** | | {reads} | | | {} | {} | {} | {} | {} | {} | {} | {}, {foreign} | | | |",
                run.label,
                stale[0],
                stale[1],
                stale[2],
                nines(stale[0], reads),
                nines(stale[2], reads),
                ms(oldest),
                stale[2] - foreign,
                foreign_reads(&run.rows)
            );
        }
    }
    md.push_str(&goals(runs));
    md
}

fn goals(runs: &[Run]) -> String {
    let mut md = String::from("\n## Goals\n\n");
    let verdict = |ok: bool| if ok { "**met**" } else { "**missed**" };
    for run in runs {
        let name = format!("{}, {}", run.topology.name(), run.label);
        if let Some(r) = run.rows.iter().find(|r| r.phase == Phase::NoFaults) {
            let v = &r.verdict;
            let ok = v.stale[2] == 0 && v.reads >= 1_000_000;
            let _ = writeln!(
                md,
                "- {name}: zero stale reads at W = 100 ms in at least 1,000,000 reads without faults: {} ({} stale in {} reads)",
                verdict(ok),
                v.stale[2],
                v.reads
            );
        }
        let (reads, stale, _, foreign) = fault_totals(&run.rows);
        if reads > 0 {
            let ok = stale[2] == 0 || (reads as f64 / stale[2] as f64).log10() >= 5.0;
            let _ = writeln!(
                md,
                "- {name}: at least 5 nines at W = 100 ms with faults: {} ({} nines: {} stale in {reads} reads; {} nines on the instance-written records alone)",
                verdict(ok),
                nines(stale[2], reads),
                stale[2],
                nines(stale[2] - foreign, reads - foreign_reads(&run.rows))
            );
        }
        let foreign_all: u64 = run.rows.iter().map(|r| r.foreign.stale[2]).sum();
        let _ = writeln!(
            md,
            "- {name}: the foreign writer's changes covered (no stale read of its records at W = 100 ms, all phases): {} ({foreign_all} stale)",
            verdict(foreign_all == 0)
        );
    }
    md.push_str("\nStale reads inside each fault's detection bound: compare the oldest staleness of a phase with its detection times above (not computed as a pass/fail).\n");
    md
}
