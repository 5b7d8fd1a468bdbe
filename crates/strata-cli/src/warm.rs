//! `strata warm`: warms a kind of a running instance through its owned loader, over the
//! monitoring router's `POST warm/` (the CLI has no loaders of its own), with a progress bar.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// What `POST warm/` answers.
#[derive(Deserialize, Default, Clone, Copy)]
struct Counts {
    total: u64,
    cached: u64,
    loaded: u64,
    failed: u64,
}

/// Where and what to warm.
pub(crate) struct WarmArgs<'a> {
    pub(crate) url: &'a str,
    pub(crate) token: Option<&'a str>,
    pub(crate) kind: &'a str,
    pub(crate) ids: Vec<String>,
    pub(crate) ids_file: Option<&'a Path>,
    pub(crate) batch: usize,
    pub(crate) concurrency: usize,
    pub(crate) timeout: Duration,
}

/// The ids to warm: given on the command line, and one per line of the file (blank lines and
/// `#` comments skipped).
fn ids(args: &WarmArgs<'_>) -> Result<Vec<String>> {
    let mut ids = args.ids.clone();
    if let Some(path) = args.ids_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the ids in {}", path.display()))?;
        ids.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if ids.is_empty() {
        bail!("no ids to warm: give them as arguments or with --ids-file FILE");
    }
    Ok(ids)
}

/// Sends the ids in batches and shows the progress; fails on the first refused batch.
pub(crate) async fn warm(args: WarmArgs<'_>) -> Result<()> {
    let ids = ids(&args)?;
    let endpoint = format!("{}/warm/", args.url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(args.timeout.max(Duration::from_secs(60)))
        .build()?;
    let bar = indicatif::ProgressBar::new(ids.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ids {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut sum = Counts::default();
    for chunk in ids.chunks(args.batch.max(1)) {
        let mut request = client.post(&endpoint).json(&serde_json::json!({
            "kind": args.kind, "ids": chunk, "concurrency": args.concurrency,
        }));
        if let Some(token) = args.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {endpoint}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bar.abandon();
            bail!("POST {endpoint} answered {status}: {body}");
        }
        let c: Counts = response.json().await.context("reading the answer")?;
        sum.total += c.total;
        sum.cached += c.cached;
        sum.loaded += c.loaded;
        sum.failed += c.failed;
        bar.inc(chunk.len() as u64);
        bar.set_message(format!(
            "{} loaded, {} already cached, {} failed",
            sum.loaded, sum.cached, sum.failed
        ));
    }
    bar.finish();
    println!(
        "warmed kind {:?}: {} distinct ids, {} loaded, {} already cached, {} failed",
        args.kind, sum.total, sum.loaded, sum.cached, sum.failed
    );
    if sum.failed > 0 {
        bail!("{} loads failed (the instance's log says why)", sum.failed);
    }
    Ok(())
}
