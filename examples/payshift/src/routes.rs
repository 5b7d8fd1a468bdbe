//! The Payshift endpoints, served through the cache.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use strata::{Cache, CacheValue, KindCache, LoadError, LoadOptions, ResponseKind, Rules, Target};
use strata_http::{CachedJson, ResponseCacheLayer};

use crate::db::Db;
use crate::error::{AppError, JobId, UserId, body};
use crate::handles::{Kinds, about_user};
use crate::models::{
    Application, ApplicationInput, Applications, Industry, Job, JobInput, Listing, Profile,
    ProfileUpdate, Subcategory, User, Whoami,
};

/// What every handler needs: made once when the service starts and kept for the life of the
/// process, so that a request copies a reference (a request that cloned an `Arc` wrote its
/// reference count, one cache line both worker threads took in turns).
pub(crate) type AppState = &'static App;

/// What every handler needs: the database and the cache (with caching off under
/// `--no-cache`: the loaders answer every read and nothing is stored).
pub(crate) struct App {
    pub(crate) db: Db,
    pub(crate) cache: Cache,
    /// The typed handles of the id-keyed kinds.
    pub(crate) kinds: Kinds,
    pub(crate) rules: Rules,
    /// The response cache of `/jobs/alljobs`.
    pub(crate) alljobs: ResponseKind,
}

/// The kind of the `/jobs/alljobs` response cache (`api.alljobs`).
pub(crate) fn alljobs_kind() -> Result<ResponseKind, strata::Error> {
    ResponseKind::new("alljobs:")
}

/// Every kind the demo caches, declared to the builder (so a misspelt `[kinds.<kind>]` or
/// `[ttl]` entry is reported).
pub(crate) fn declare(
    builder: strata::CacheBuilder,
    alljobs: &ResponseKind,
) -> strata::CacheBuilder {
    builder
        .declare::<User>()
        .declare::<Profile>()
        .declare::<Whoami>()
        .declare::<Job>()
        .declare::<Applications>()
        .declare_kind(INDUSTRY)
        .declare_kind(SUBCATEGORY)
        .declare_kind(alljobs)
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

/// Loads through `kind` (straight from the loader when caching is off), with `options`.
async fn cached<T, F, Fut>(
    kind: &KindCache<T>,
    id: i64,
    options: &LoadOptions,
    load: F,
) -> Result<Option<Arc<T>>, AppError>
where
    T: CacheValue,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, AppError>>,
{
    kind.get_or_load_optional(id, options, load)
        .await
        .map_err(load_err)
}

/// The default load options (entries not about a user carry no tag).
static UNTAGGED: std::sync::LazyLock<LoadOptions> = std::sync::LazyLock::new(LoadOptions::new);

/// Declares what a whoami miss needs: the user and the profile with its id, read ahead (and
/// leased) in the whoami's own lookup and stored with it in one batch once it is built.
pub(crate) fn relate(cache: &Cache) -> Result<(), strata::Error> {
    let whoami = cache.of::<Whoami>()?;
    whoami
        .needs(&cache.of::<User>()?)
        .needs(&cache.of::<Profile>()?);
    Ok(())
}

async fn user(state: &AppState, id: i64) -> Result<Option<Arc<User>>, AppError> {
    let users = &state.kinds.users;
    cached(users, id, &about_user(id), || state.db.user(id)).await
}

async fn profile(state: &AppState, id: i64) -> Result<Option<Arc<Profile>>, AppError> {
    let profiles = &state.kinds.profiles;
    cached(profiles, id, &about_user(id), || state.db.profile(id)).await
}

/// A cached value's JSON response, serialized once per cached value.
type CachedResult<T> = Result<CachedJson<T>, AppError>;

async fn whoami(State(state): State<AppState>, UserId(id): UserId) -> CachedResult<Whoami> {
    let found = cached(&state.kinds.whoami, id, &about_user(id), || async {
        let (Some(user), Some(profile)) = (user(&state, id).await?, profile(&state, id).await?)
        else {
            return Ok(None);
        };
        let stats = state.db.activity(id).await?;
        Ok(Some(Whoami {
            user: (*user).clone(),
            profile: (*profile).clone(),
            stats,
            json: Default::default(),
        }))
    })
    .await?;
    found
        .map(CachedJson)
        .ok_or_else(|| AppError::NotFound(format!("no user {id}")))
}

/// What each change invalidates, declared once: the model signals of the Django layer, as
/// rules (docs/migrating-from-django.md maps each one).
///
/// - `profile` (a user's profile or account changed): the user, the profile, the whoami, and
///   everything tagged `user:{id}`.
/// - `logout`: the user's whoami.
/// - `activity` (a count whoami shows changed: a job posted, an application sent or received):
///   the user's whoami.
/// - `job` (created or changed): the job and every cached `/jobs/alljobs` listing.
/// - `application` (a job's applications changed; the id is the job's): its applications list.
pub(crate) fn rules(alljobs: &ResponseKind) -> Rules {
    let listing = alljobs.target();
    Rules::new()
        .on("profile", |id| {
            vec![
                Target::of::<User>(id),
                Target::of::<Profile>(id),
                Target::of::<Whoami>(id),
                Target::tag(format!("user:{id}")),
            ]
        })
        .on("logout", |id| vec![Target::of::<Whoami>(id)])
        .on("activity", |id| vec![Target::of::<Whoami>(id)])
        .on("job", move |id| {
            vec![Target::of::<Job>(id), listing.clone()]
        })
        .on("application", |id| vec![Target::of::<Applications>(id)])
}

/// Applies the rules for a change; a failure is logged (the L1 lifetime cap still bounds
/// staleness) rather than failing the write that already reached the database.
async fn invalidate(state: &AppState, change: &str, id: i64) {
    if let Err(e) = state.cache.invalidate(&state.rules, change, id).await {
        tracing::warn!(change, id, error = %e, "could not invalidate");
    }
}

async fn update_profile(
    State(state): State<AppState>,
    UserId(id): UserId,
    b: Result<Json<ProfileUpdate>, JsonRejection>,
) -> ApiResult<Profile> {
    let update = body(b)?;
    update.check()?;
    let profile = state
        .db
        .update_profile(id, &update)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user {id}")))?;
    invalidate(&state, "profile", id).await;
    Ok(Json(profile))
}

async fn logout(State(state): State<AppState>, UserId(id): UserId) -> ApiResult<serde_json::Value> {
    if state.db.user(id).await?.is_none() {
        return Err(AppError::NotFound(format!("no user {id}")));
    }
    invalidate(&state, "logout", id).await;
    Ok(Json(
        serde_json::json!({ "logged_out": true, "user_id": id }),
    ))
}

async fn job(State(state): State<AppState>, JobId(id): JobId) -> CachedResult<Job> {
    cached(&state.kinds.jobs, id, &UNTAGGED, || state.db.job(id))
        .await?
        .map(CachedJson)
        .ok_or_else(|| AppError::NotFound(format!("no job {id}")))
}

/// Every job, in order: the ids from the database, then each job from the cache, the misses
/// loaded by one batch query (the entries `/jobs/{id}` reads too).
async fn all_jobs(State(state): State<AppState>) -> ApiResult<serde_json::Value> {
    let ids = state.db.job_ids().await?;
    let jobs = state
        .kinds
        .jobs
        .get_many_or_load(&ids, |ids: Vec<i64>| {
            let db = state.db.clone();
            async move { db.jobs(&ids).await }
        })
        .await
        .map_err(load_err)?;
    let jobs: Vec<Arc<Job>> = jobs.into_iter().flatten().collect();
    Ok(Json(serde_json::json!({ "jobs": jobs })))
}

/// The kinds of the cached lists (`#[cached]` prefixes without their ':').
const INDUSTRY: &str = "industry";
const SUBCATEGORY: &str = "subcategory";

#[strata::cached(ttl = "7d", prefix = "industry:")]
pub(crate) async fn cached_industries(
    cache: &Cache,
    #[skip] db: &Db,
) -> Result<Listing<Industry>, AppError> {
    db.industries().await.map(Listing::new)
}

#[strata::cached(ttl = "7d", prefix = "subcategory:")]
pub(crate) async fn cached_subcategories(
    cache: &Cache,
    #[skip] db: &Db,
) -> Result<Listing<Subcategory>, AppError> {
    db.subcategories().await.map(Listing::new)
}

async fn industries(State(state): State<AppState>) -> CachedResult<Listing<Industry>> {
    let list = cached_industries(&state.cache, &state.db).await?;
    Ok(CachedJson(Arc::new(list)))
}

async fn subcategories(State(state): State<AppState>) -> CachedResult<Listing<Subcategory>> {
    let list = cached_subcategories(&state.cache, &state.db).await?;
    Ok(CachedJson(Arc::new(list)))
}

/// A job was created or changed: the job, the listings, and its client's whoami (jobs posted).
async fn jobs_changed(state: &AppState, id: i64, client_id: i64) {
    invalidate(state, "job", id).await;
    invalidate(state, "activity", client_id).await;
}

/// `GET /accountsapp/profile/{user_id}`: the profile, cached 12 h.
async fn get_profile(State(state): State<AppState>, UserId(id): UserId) -> ApiResult<Arc<Profile>> {
    profile(&state, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no user {id}")))
}

/// `GET /jobs/{job_id}/applications`: a job's applications, cached 30 min.
async fn applications(
    State(state): State<AppState>,
    JobId(id): JobId,
) -> ApiResult<Arc<Applications>> {
    let applications = &state.kinds.applications;
    cached(applications, id, &UNTAGGED, || state.db.applications(id))
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no job {id}")))
}

/// `POST /jobs/{job_id}/applications` `{"freelancer_id": 7}`: invalidates the job's list and
/// the whoami of the freelancer (applications sent) and of the client (applications received).
async fn apply(
    State(state): State<AppState>,
    JobId(id): JobId,
    b: Result<Json<ApplicationInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Application>), AppError> {
    let input = body(b)?;
    let client = state
        .db
        .job_client(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
    let application = state.db.add_application(id, input.freelancer_id).await?;
    invalidate(&state, "application", id).await;
    invalidate(&state, "activity", input.freelancer_id).await;
    invalidate(&state, "activity", client).await;
    Ok((StatusCode::CREATED, Json(application)))
}

async fn create_job(
    State(state): State<AppState>,
    b: Result<Json<JobInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Job>), AppError> {
    let input = body(b)?;
    input.check()?;
    let job = state.db.create_job(&input).await?;
    jobs_changed(&state, job.id, job.client.id).await;
    Ok((StatusCode::CREATED, Json(job)))
}

async fn update_job(
    State(state): State<AppState>,
    JobId(id): JobId,
    b: Result<Json<JobInput>, JsonRejection>,
) -> ApiResult<Job> {
    let input = body(b)?;
    input.check()?;
    let before = state.db.job_client(id).await?;
    let job = state
        .db
        .update_job(id, &input)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
    jobs_changed(&state, id, job.client.id).await;
    if let Some(previous) = before.filter(|c| *c != job.client.id) {
        invalidate(&state, "activity", previous).await;
    }
    Ok(Json(job))
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

async fn method_not_allowed() -> AppError {
    AppError::Rejected(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route".into(),
    )
}

/// Every Payshift endpoint; `/jobs/alljobs` goes through the response cache.
pub(crate) fn app(state: AppState) -> Router {
    // The listing reads no query parameter, so none reaches it (`?cachebust=N` is the same
    // entry); anonymous visitors share entries whatever cookies they carry but `sessionid`.
    let alljobs = Router::new().route("/jobs/alljobs", get(all_jobs)).layer(
        ResponseCacheLayer::new(
            state.cache.clone(),
            state.alljobs.clone(),
            Duration::from_secs(15 * 60),
        )
        .vary_by_cookie(["sessionid"]),
    );
    Router::new()
        .route("/accountsapp/whoami/{user_id}", get(whoami))
        .route(
            "/accountsapp/profile/{user_id}",
            get(get_profile).put(update_profile),
        )
        .route("/accountsapp/logout/{user_id}", post(logout))
        .route("/jobs/", post(create_job))
        .route("/jobs/{job_id}", get(job).put(update_job))
        .route("/jobs/{job_id}/applications", get(applications).post(apply))
        .route("/jobs/job-industries/", get(industries))
        .route("/jobs/job-subcategories/", get(subcategories))
        .merge(alljobs)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use strata::{Backend, CacheBuilder, Cacheable, KeyTtl, MemoryBackend, MemoryConfig};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn each_kind_keeps_the_django_layers_ttl() {
        assert_eq!(User::ttl(), Some(24 * HOUR));
        assert_eq!(Applications::ttl(), Some(HOUR / 2));
        assert_eq!(Profile::ttl(), Some(12 * HOUR));
        assert_eq!(Whoami::ttl(), Some(HOUR / 4));
        assert_eq!(Job::ttl(), Some(2 * HOUR));
    }

    /// The `#[cached]` lists live a week (within the jitter), plus the stale window.
    #[tokio::test]
    async fn the_cached_lists_live_a_week() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        db.seed_if_empty(0.01).await.unwrap();
        let backend = Arc::new(
            MemoryBackend::new(MemoryConfig::default().with_namespace("payshift:")).unwrap(),
        );
        let alljobs = alljobs_kind().unwrap();
        let cache = declare(CacheBuilder::new(), &alljobs)
            .prefix("payshift")
            .strict(true)
            .metrics(false)
            .backend(backend.clone())
            .build()
            .await
            .unwrap();
        assert!(
            !cached_industries(&cache, &db)
                .await
                .unwrap()
                .items()
                .is_empty()
        );
        assert!(
            !cached_subcategories(&cache, &db)
                .await
                .unwrap()
                .items()
                .is_empty()
        );
        for kind in [INDUSTRY, SUBCATEGORY] {
            let page = backend
                .as_listing()
                .unwrap()
                .scan(&format!("payshift:v1:{kind}:"), None, 10)
                .await
                .unwrap();
            let [key] = page.keys.as_slice() else {
                panic!("one {kind} entry: {:?}", page.keys)
            };
            let KeyTtl::Expires(ttl) = backend.ttl(key).await.unwrap() else {
                panic!("{key} expires")
            };
            let week = 7 * 24 * HOUR;
            let stale = cache.admin().config().max_stale;
            assert!(
                ttl >= week.mul_f64(0.9) && ttl <= week.mul_f64(1.1) + stale,
                "{kind}: {ttl:?}"
            );
        }
    }
}
