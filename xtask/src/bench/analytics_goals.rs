//! The goals of the analytics (issue 26): the L1 hit with analytics on against off, and the
//! online miss-ratio curve against the exact LRU curve.

use serde_json::Value;

use super::report::{Goal, Report, ratio};

impl Report {
    pub(crate) fn analytics_goals(&self) -> Vec<Goal> {
        vec![
            Goal {
                name: "L1 hit: analytics on / off (1,000 keys in turn)",
                target: 1.05,
                at_least: false,
                value: ratio(
                    self.time("facade_l1_hit/facade_get_1000_ids"),
                    self.time("facade_l1_hit/facade_get_1000_ids_analytics_off"),
                ),
                detail: format!(
                    "one key, which is in the sample (a run of hits on it is counted with one atomic add): {}",
                    ratio(
                        self.time("facade_l1_hit/facade_get_by_id"),
                        self.time("facade_l1_hit/facade_get_by_id_analytics_off"),
                    )
                    .map_or("not measured".into(), |v| format!("{v:.3}x"))
                ),
            },
            self.mrc_goal(),
        ]
    }

    /// The SHARDS estimate against the exact LRU curve: the largest error over traces and sizes.
    fn mrc_goal(&self) -> Goal {
        let rows: Vec<&Value> = self.results["mrc"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let worst = rows
            .iter()
            .filter_map(|r| r["error_points"].as_f64())
            .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
        let requests = rows
            .first()
            .and_then(|r| r["requests"].as_u64())
            .unwrap_or(0);
        Goal {
            name: "miss-ratio curve: largest error vs exact LRU (points)",
            target: 2.0,
            at_least: false,
            value: worst,
            detail: format!("{} sizes, {requests} requests per trace", rows.len()),
        }
    }
}
