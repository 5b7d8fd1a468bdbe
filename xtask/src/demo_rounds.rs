//! A row of the end-to-end measurement (`demo_load`) measured in rounds: its peer's run and
//! its own, one after the other, so that a drift of the machine's load moves both alike.

use anyhow::Result;

use crate::demo_load::line;
use crate::demo_rows::Round;
use crate::wrk::{Paths, WrkRun};

/// `rounds` rounds of the `(peer, row)` paths, each run by `run` (the peer first): the median
/// round's row and peer runs, and every round.
pub(crate) fn measure_rounds(
    run: impl Fn(&Paths) -> Result<WrkRun>,
    (peer, paths): (&Paths, &Paths),
    rounds: usize,
    label: &str,
) -> Result<(WrkRun, WrkRun, Vec<Round>)> {
    let mut done = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let peer_run = run(peer)?;
        let row = run(paths)?;
        let ratio = row.rps / peer_run.rps;
        println!(
            "{label} {}  (peer {:.0} req/s, {ratio:.2})",
            line(&row),
            peer_run.rps
        );
        done.push((row, peer_run));
    }
    let (row, peer_run) = median_round(&done);
    let rounds = done
        .iter()
        .map(|(r, p)| Round {
            rps: r.rps,
            peer_rps: p.rps,
        })
        .collect();
    Ok((row, peer_run, rounds))
}

/// The round whose row has the median req/s (the lower middle one of an even count).
fn median_round(done: &[(WrkRun, WrkRun)]) -> (WrkRun, WrkRun) {
    let mut sorted = done.to_vec();
    sorted.sort_by(|a, b| a.0.rps.total_cmp(&b.0.rps));
    sorted[(sorted.len() - 1) / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_round_is_the_row_run_in_the_middle() {
        let run = |rps: f64| WrkRun {
            rps,
            ..WrkRun::default()
        };
        let done = [
            (run(3.0), run(30.0)),
            (run(1.0), run(10.0)),
            (run(2.0), run(20.0)),
        ];
        assert_eq!(median_round(&done), (run(2.0), run(20.0)));
        assert_eq!(median_round(&done[..2]), (run(1.0), run(10.0)));
    }
}
