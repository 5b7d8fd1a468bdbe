//! `--warm`: the cache is warmed before the service reports ready — the industries and
//! subcategories lists, and the most recent jobs — and the start-up hot-set warming of
//! `Cache::ready` (what other instances recorded) runs first.
//!
//! How warming reaches a `#[cached]` function: the function is its own loader, so warming it
//! is calling it once (`cached_industries(&cache, &db)`): the call loads and stores its result,
//! or finds it cached. Id-keyed kinds are warmed through the owned loader the service
//! registers for them (`KindCache::register_loader`), which `KindCache::warm` runs for each id
//! not cached, a few at a time; the monitoring router's `POST warm/` and `strata warm` reach
//! the same loader.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use strata::WarmOptions;

use crate::error::AppError;
use crate::routes::{self, AppState};

/// Registers the owned loaders of the id-keyed kinds the service warms (jobs).
pub(crate) fn register_loaders(state: &AppState) -> anyhow::Result<()> {
    let db = Arc::new(state.db.clone());
    state.kinds.jobs.register_loader(move |id: String| {
        let db = db.clone();
        async move {
            let id: i64 = id
                .parse()
                .map_err(|_| AppError::BadRequest(format!("job id {id:?}")))?;
            db.job(id).await
        }
    });
    Ok(())
}

/// Warms the lists and the `recent` most recent jobs; prints what it did.
pub(crate) async fn warm(state: &AppState, recent: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    state.cache.ready().await;
    let hot = state.cache.admin().warming();
    let industries = routes::cached_industries(&state.cache, &state.db).await?;
    let subcategories = routes::cached_subcategories(&state.cache, &state.db).await?;
    let ids = state.db.recent_job_ids(recent).await?;
    let jobs = state
        .kinds
        .jobs
        .warm(&ids, &WarmOptions::new().concurrency(8), |_| {})
        .await
        .context("warming the jobs")?;
    println!(
        "warmed in {:.0?}: hot set {} of {} keys in L1, {} industries, {} subcategories, {} recent jobs \
         ({} loaded, {} already cached, {} failed)",
        started.elapsed(),
        hot.filled,
        hot.total,
        industries.items().len(),
        subcategories.items().len(),
        jobs.total,
        jobs.loaded,
        jobs.cached,
        jobs.failed,
    );
    Ok(())
}
