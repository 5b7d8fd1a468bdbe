//! SVG charts of the report (plotters): one grouped bar chart per group that has numbers.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::report::Report;

const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws every chart the report has data for into `dir`; answers the file names.
pub(crate) fn draw(report: &Report, dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut add = |name: &str, chart: Option<Chart>| -> Result<()> {
        if let Some(chart) = chart {
            chart.draw(&dir.join(name))?;
            files.push(name.to_owned());
        }
        Ok(())
    };
    add("goals.svg", goals(report))?;
    add("l2-throughput.svg", l2(report))?;
    add("hit-ratio.svg", hit_ratio(report))?;
    add("e2e.svg", e2e(report))?;
    Ok(files)
}

/// A grouped bar chart: one group per category, one bar per series.
struct Chart {
    title: String,
    y_label: String,
    categories: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
    /// A horizontal reference line (a goal's threshold, the optimum) and its label.
    reference: Option<(&'static str, f64)>,
}

impl Chart {
    fn draw(&self, path: &Path) -> Result<()> {
        let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
        let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let top = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .chain(self.reference.map(|r| r.1))
            .fold(0.0f64, f64::max)
            * 1.15;
        let n = self.categories.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..n as f64, 0f64..top.max(f64::MIN_POSITIVE))
            .map_err(|e| err(&e))?;
        let categories = self.categories.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 1e-6 && i < categories.len() {
                    categories[i].clone()
                } else {
                    String::new()
                }
            })
            .y_desc(self.y_label.as_str())
            .draw()
            .map_err(|e| err(&e))?;
        let width = 0.8 / self.series.len().max(1) as f64;
        for (s, (name, values)) in self.series.iter().enumerate() {
            let color = PALETTE[s % PALETTE.len()];
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + s as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, *v)], color.filled())
                }))
                .map_err(|e| err(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        if let Some((label, r)) = self.reference {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, r), (n as f64, r)],
                    RED.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
        Ok(())
    }
}

fn goals(report: &Report) -> Option<Chart> {
    let goals: Vec<_> = report
        .goals()
        .into_iter()
        .filter(|g| g.value.is_some())
        .collect();
    if goals.is_empty() {
        return None;
    }
    // Normalised so that 1.0 is the goal and more is better, whichever its direction.
    let score = |g: &super::report::Goal| {
        let v = g.value.unwrap_or(0.0);
        if g.at_least {
            v / g.target
        } else {
            g.target / v.max(f64::MIN_POSITIVE)
        }
    };
    Some(Chart {
        title: "Goals: this run / goal (1.0 = met, higher is better)".into(),
        y_label: "fraction of goal".into(),
        categories: (1..=goals.len()).map(|i| format!("G{i}")).collect(),
        series: vec![("this run".into(), goals.iter().map(score).collect())],
        reference: Some(("goal", 1.0)),
    })
}

fn l2(report: &Report) -> Option<Chart> {
    let peers = ["facade", "facade_direct", "raw_redis_rs", "cached_crate"];
    let concurrency: Vec<u64> = report.l2("facade").iter().map(|r| r.0).collect();
    if concurrency.is_empty() {
        return None;
    }
    let mut series: Vec<(String, Vec<f64>)> = peers
        .iter()
        .map(|p| {
            let rows = report.l2(p);
            let values = concurrency
                .iter()
                .map(|c| rows.iter().find(|r| r.0 == *c).map_or(0.0, |r| r.1))
                .collect();
            ((*p).to_owned(), values)
        })
        .collect();
    if let Some(ops) = report.redis_benchmark_ops(1) {
        let values = concurrency
            .iter()
            .map(|c| if *c == 64 { ops } else { 0.0 })
            .collect();
        series.push(("redis-benchmark (c=64)".into(), values));
    }
    Some(Chart {
        title: "L2 hit throughput by concurrency".into(),
        y_label: "reads per second".into(),
        categories: concurrency.iter().map(|c| format!("c={c}")).collect(),
        series,
        reference: None,
    })
}

fn hit_ratio(report: &Report) -> Option<Chart> {
    let rows: Vec<_> = report.results["hitratio"]
        .as_array()?
        .iter()
        .filter(|r| r["size_pct"] == 10)
        .collect();
    if rows.is_empty() {
        return None;
    }
    let series = ["lru", "random", "ttl", "moka"]
        .iter()
        .map(|p| {
            let values = rows
                .iter()
                .map(|r| {
                    r[*p].as_f64().unwrap_or(0.0)
                        / r["optimal"].as_f64().unwrap_or(1.0).max(f64::MIN_POSITIVE)
                })
                .collect();
            ((*p).to_owned(), values)
        })
        .collect();
    Some(Chart {
        title: "Hit ratio as a fraction of Bélády's optimum (cache = 10 % of keys)".into(),
        y_label: "fraction of optimal".into(),
        categories: rows
            .iter()
            .map(|r| r["trace"].as_str().unwrap_or("?").to_owned())
            .collect(),
        series,
        reference: Some(("Bélády's optimum", 1.0)),
    })
}

fn e2e(report: &Report) -> Option<Chart> {
    let rows = report.results["e2e"]["rows"].as_array()?;
    let setups: Vec<&str> = crate::demo_rows::SETUPS.iter().map(|s| s.name).collect();
    let label = |r: &serde_json::Value| {
        let e = r["endpoint"].as_str().unwrap_or("?");
        let short = e.trim_end_matches('/').rsplit('/').next().unwrap_or(e);
        let short = if short.starts_with('{') {
            e.trim_end_matches(short)
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(e)
        } else {
            short
        };
        format!("{short} {}", r["keys"].as_str().unwrap_or(""))
    };
    let mut categories: Vec<String> = Vec::new();
    for r in rows {
        let l = label(r);
        if !categories.contains(&l) {
            categories.push(l);
        }
    }
    let series = setups
        .iter()
        .map(|setup| {
            let values = categories
                .iter()
                .map(|c| {
                    rows.iter()
                        .find(|r| r["setup"] == *setup && label(r) == *c)
                        .and_then(|r| r["to_ceiling"].as_f64())
                        .unwrap_or(0.0)
                })
                .collect();
            ((*setup).to_owned(), values)
        })
        .collect();
    Some(Chart {
        title: "Payshift demo under wrk: req/s as a fraction of the same server's 404 route".into(),
        y_label: "req/s / ceiling".into(),
        categories,
        series,
        reference: Some(("goal with L1 (0.8)", 0.8)),
    })
}
