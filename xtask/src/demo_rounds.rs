//! A row of the end-to-end measurement (`demo_load`) measured in rounds: its peer's run and
//! its own, one after the other, so that a drift of the machine's load moves both alike; the
//! order alternates from round to round (peer first, then the row first, ...), so that a
//! steady drift favours neither.

use anyhow::Result;

use crate::demo_load::line;
use crate::demo_rows::Round;
use crate::wrk::{Paths, WrkRun};

/// `rounds` rounds of the `(peer, row)` paths, each run by `run` (the peer first in the first
/// round and every other one after it, the row first in the others): the median round's row
/// and peer runs, and every round.
pub(crate) fn measure_rounds(
    run: impl Fn(&Paths) -> Result<WrkRun>,
    (peer, paths): (&Paths, &Paths),
    rounds: usize,
    label: &str,
) -> Result<(WrkRun, WrkRun, Vec<Round>)> {
    let mut done = Vec::with_capacity(rounds);
    for i in 0..rounds.max(1) {
        let (peer_run, row) = if i % 2 == 0 {
            let peer_run = run(peer)?;
            (peer_run, run(paths)?)
        } else {
            let row = run(paths)?;
            (run(peer)?, row)
        };
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

    #[test]
    fn the_order_of_peer_and_row_alternates_from_round_to_round() {
        let (peer, row) = (Paths::One("/peer".into()), Paths::One("/row".into()));
        let order = std::cell::RefCell::new(Vec::new());
        let run = |p: &Paths| {
            let Paths::One(path) = p else { unreachable!() };
            order.borrow_mut().push(path.clone());
            let rps = if path == "/peer" {
                100.0
            } else {
                80.0 + order.borrow().len() as f64
            };
            Ok(WrkRun {
                rps,
                ..WrkRun::default()
            })
        };
        let (median_row, median_peer, rounds) =
            measure_rounds(run, (&peer, &row), 3, "test").unwrap();
        assert_eq!(
            order.into_inner(),
            ["/peer", "/row", "/row", "/peer", "/peer", "/row"]
        );
        let rows: Vec<f64> = rounds.iter().map(|r| r.rps).collect();
        assert_eq!(rows, [82.0, 83.0, 86.0], "each round's row, in order");
        assert!(rounds.iter().all(|r| r.peer_rps == 100.0));
        assert_eq!((median_row.rps, median_peer.rps), (83.0, 100.0));
    }
}
