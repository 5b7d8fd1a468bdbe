//! The original platform's endpoints, served through the cache.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use strata::{Cache, LoadError, LoadOptions, Rules, Target};
use strata_http::ResponseCacheLayer;

use crate::db::Db;
use crate::error::{AppError, parse_id};
use crate::models::{Industry, Job, JobInput, Profile, ProfileUpdate, Subcategory, User, Whoami};

/// What every handler needs: the database and the cache (`None` with `--no-cache`).
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) db: Db,
    pub(crate) cache: Option<Cache>,
    pub(crate) rules: Rules,
}

type ApiResult<T> = Result<Json<T>, AppError>;

/// Turns a cache-load failure into the loader's own error (cache failures never reach here in
/// fail-open mode, but are reported as unavailability if they do).
fn load_err(e: LoadError<AppError>) -> AppError {
    match e {
        LoadError::Loader(e) => (*e).clone(),
        other => AppError::Database(other.to_string()),
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    b.map(|Json(v)| v)
        .map_err(|e| AppError::BadRequest(format!("malformed JSON body: {}", e.body_text())))
}

/// Loads through the cache (kind, id) when caching is on, straight from the loader otherwise.
/// Entries about a user carry the tag `user:{id}`, so a profile change reaches all of them.
async fn cached<T, F, Fut>(
    state: &AppState,
    kind: &str,
    id: i64,
    load: F,
) -> Result<Option<Arc<T>>, AppError>
where
    T: strata::CacheValue,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, AppError>>,
{
    match &state.cache {
        None => Ok(load().await?.map(Arc::new)),
        Some(cache) => cache
            .kind::<T>(kind)
            .map_err(|e| AppError::Database(e.to_string()))?
            .get_or_load_optional(id, &options(kind, id), load)
            .await
            .map_err(load_err),
    }
}

/// The load options of an entry: per-user kinds are tagged with their user.
fn options(kind: &str, id: i64) -> LoadOptions {
    match kind {
        "user" | "profile" | "whoami" => LoadOptions::new().tags([format!("user:{id}")]),
        _ => LoadOptions::new(),
    }
}

async fn user(state: &AppState, id: i64) -> Result<Option<Arc<User>>, AppError> {
    cached(state, "user", id, || state.db.user(id)).await
}

async fn profile(state: &AppState, id: i64) -> Result<Option<Arc<Profile>>, AppError> {
    cached(state, "profile", id, || state.db.profile(id)).await
}

async fn whoami(State(state): State<AppState>, Path(raw): Path<String>) -> ApiResult<Arc<Whoami>> {
    let id = parse_id("user_id", &raw)?;
    let found = cached(&state, "whoami", id, || async {
        let (Some(user), Some(profile)) = (user(&state, id).await?, profile(&state, id).await?)
        else {
            return Ok(None);
        };
        let stats = state.db.activity(id).await?;
        Ok(Some(Whoami {
            user: (*user).clone(),
            profile: (*profile).clone(),
            stats,
        }))
    })
    .await?;
    found
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no user {id}")))
}

/// What each change invalidates, declared once (the original layer spread this over views).
pub(crate) fn rules() -> Rules {
    Rules::new()
        .on("profile", |id| {
            vec![
                Target::key("user", id),
                Target::key("profile", id),
                Target::key("whoami", id),
                Target::tag(format!("user:{id}")),
            ]
        })
        .on("logout", |id| vec![Target::key("whoami", id)])
        .on("job", |id| {
            vec![Target::key("job", id), Target::kind("api.alljobs")]
        })
}

/// Applies the rules for a change; a failure is logged (the L1 lifetime cap still bounds
/// staleness) rather than failing the write that already reached the database.
async fn invalidate(state: &AppState, change: &str, id: i64) {
    let Some(cache) = &state.cache else { return };
    if let Err(e) = cache.invalidate(&state.rules, change, id).await {
        tracing::warn!(change, id, error = %e, "could not invalidate");
    }
}

async fn update_profile(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    b: Result<Json<ProfileUpdate>, JsonRejection>,
) -> ApiResult<Profile> {
    let id = parse_id("user_id", &raw)?;
    let update = body(b)?;
    if update
        .hourly_rate
        .is_some_and(|r| !(0.0..=100_000.0).contains(&r))
    {
        return Err(AppError::Unprocessable(
            "hourly_rate must be between 0 and 100000".into(),
        ));
    }
    let profile = state
        .db
        .update_profile(id, &update)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user {id}")))?;
    invalidate(&state, "profile", id).await;
    Ok(Json(profile))
}

async fn logout(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<serde_json::Value> {
    let id = parse_id("user_id", &raw)?;
    if state.db.user(id).await?.is_none() {
        return Err(AppError::NotFound(format!("no user {id}")));
    }
    invalidate(&state, "logout", id).await;
    Ok(Json(
        serde_json::json!({ "logged_out": true, "user_id": id }),
    ))
}

async fn job(State(state): State<AppState>, Path(raw): Path<String>) -> ApiResult<Arc<Job>> {
    let id = parse_id("job_id", &raw)?;
    cached(&state, "job", id, || state.db.job(id))
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no job {id}")))
}

async fn all_jobs(State(state): State<AppState>) -> ApiResult<serde_json::Value> {
    let jobs = state.db.all_jobs().await?;
    Ok(Json(serde_json::json!({ "jobs": jobs })))
}

#[strata::cached(ttl = "7d", prefix = "industry:")]
async fn cached_industries(cache: &Cache, #[skip] db: &Db) -> Result<Vec<Industry>, AppError> {
    db.industries().await
}

#[strata::cached(ttl = "7d", prefix = "subcategory:")]
async fn cached_subcategories(
    cache: &Cache,
    #[skip] db: &Db,
) -> Result<Vec<Subcategory>, AppError> {
    db.subcategories().await
}

async fn industries(State(state): State<AppState>) -> ApiResult<Vec<Industry>> {
    Ok(Json(match &state.cache {
        Some(cache) => cached_industries(cache, &state.db).await?,
        None => state.db.industries().await?,
    }))
}

async fn subcategories(State(state): State<AppState>) -> ApiResult<Vec<Subcategory>> {
    Ok(Json(match &state.cache {
        Some(cache) => cached_subcategories(cache, &state.db).await?,
        None => state.db.subcategories().await?,
    }))
}

async fn jobs_changed(state: &AppState, id: i64) {
    invalidate(state, "job", id).await;
}

async fn create_job(
    State(state): State<AppState>,
    b: Result<Json<JobInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Job>), AppError> {
    let input = body(b)?;
    let job = state.db.create_job(&input).await?;
    jobs_changed(&state, job.id).await;
    Ok((StatusCode::CREATED, Json(job)))
}

async fn update_job(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    b: Result<Json<JobInput>, JsonRejection>,
) -> ApiResult<Job> {
    let id = parse_id("job_id", &raw)?;
    let input = body(b)?;
    let job = state
        .db
        .update_job(id, &input)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
    jobs_changed(&state, id).await;
    Ok(Json(job))
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

/// Every Payshift endpoint; `/jobs/alljobs` goes through the response cache when caching is on.
pub(crate) fn app(state: AppState) -> anyhow::Result<Router> {
    let mut alljobs = Router::new().route("/jobs/alljobs", get(all_jobs));
    if let Some(cache) = &state.cache {
        alljobs = alljobs.layer(ResponseCacheLayer::new(
            cache.clone(),
            "alljobs:",
            Duration::from_secs(15 * 60),
        )?);
    }
    Ok(Router::new()
        .route("/accountsapp/whoami/{user_id}", get(whoami))
        .route("/accountsapp/profile/{user_id}", put(update_profile))
        .route("/accountsapp/logout/{user_id}", post(logout))
        .route("/jobs/", post(create_job))
        .route("/jobs/{job_id}", get(job).put(update_job))
        .route("/jobs/job-industries/", get(industries))
        .route("/jobs/job-subcategories/", get(subcategories))
        .merge(alljobs)
        .fallback(not_found)
        .with_state(state))
}
