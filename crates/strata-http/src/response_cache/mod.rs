//! `ResponseCacheLayer`: whole HTTP responses cached per URL and per user.

mod handle;
mod key;
mod stored;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HeaderName};
use http::{Request, Response};
use strata::{Cache, KindCache, ResponseKind};
use tower::{Layer, Service};

use key::Vary;
use stored::{Storable, StoredResponse};

/// The response header saying how a response was served: HIT, MISS, STALE or BYPASS.
pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// A function choosing the cache key of a request (`None`: do not cache it).
pub type KeyFn = Arc<dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync>;

/// Caches GET responses with status 200 under `path + declared query`, varying by the
/// `Authorization` and `Cookie` headers (hashed into the key) so one user's response is never
/// served to another.
///
/// - **Query parameters are declared** with [`query`](Self::query): the others are removed
///   from the request before the handler runs, so junk parameters (`?cachebust=1`) neither
///   create entries nor run the handler, and a declared one (`?page=2`) is never answered
///   from another value's entry. By default no parameter is declared: the handler sees none.
/// - **Identity**: by default responses vary by `Authorization` and the whole `Cookie` header
///   (safe: no user's response reaches another). Name the session cookie with
///   [`vary_by_cookie`](Self::vary_by_cookie) so that visitors whose only difference is an
///   unrelated cookie (analytics, preferences) share entries.
/// - Only responses whose `Content-Type` is one of [`content_types`](Self::content_types)
///   (default `application/json`) are stored; nor are responses with `Set-Cookie` or
///   `Cache-Control: private`/`no-store`.
/// - Cached responses carry `Vary` naming what they vary on, for shared caches downstream.
/// - A request with `Cache-Control: no-cache` bypasses the cache and refreshes it.
/// - Concurrent misses on one URL run the handler once (single flight).
/// - Cached responses carry an `ETag`; a matching `If-None-Match` gets `304 Not Modified`.
/// - `X-Cache: HIT | MISS | STALE | BYPASS` says what happened. STALE: the handler failed
///   (5xx) and the last good response was served instead.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use strata_http::ResponseCacheLayer;
///
/// let listing = strata::ResponseKind::new("products")?; // kind `api.products`
/// let cache = strata::CacheBuilder::new().declare_kind(&listing).build().await?;
/// let layer = ResponseCacheLayer::new(cache.clone(), listing, Duration::from_secs(15 * 60));
/// assert_eq!(layer.kind().name(), "api.products");
/// let listing_target = layer.kind().target();
/// let _rules = strata::Rules::new().on("product", move |id| {
///     vec![strata::Target::key("product", id), listing_target.clone()]
/// });
/// let app: Router = Router::new()
///     .route("/products", get(|| async { "[...]" }))
///     .layer(layer);
/// # Ok::<(), strata::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct ResponseCacheLayer {
    cache: Cache,
    kind: ResponseKind,
    responses: KindCache<StoredResponse>,
    vary: Arc<Vary>,
    query: Arc<Vec<String>>,
    storable: Arc<Storable>,
    key_fn: Option<KeyFn>,
}

impl std::fmt::Debug for ResponseCacheLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCacheLayer")
            .field("responses", &self.responses)
            .field("vary", &self.vary)
            .field("query", &self.query)
            .field("storable", &self.storable)
            .finish_non_exhaustive()
    }
}

impl ResponseCacheLayer {
    /// Caches responses under `kind` for `ttl` (unless configuration gives the kind a TTL).
    pub fn new(cache: Cache, kind: ResponseKind, ttl: Duration) -> Self {
        let vary = Vary {
            headers: vec![AUTHORIZATION, COOKIE],
            cookies: Vec::new(),
        };
        let storable = Storable {
            keep: vec![
                CONTENT_TYPE,
                http::header::CONTENT_LANGUAGE,
                http::header::CONTENT_ENCODING,
                http::header::VARY,
                http::header::LAST_MODIFIED,
                CACHE_CONTROL,
            ],
            content_types: vec!["application/json".to_owned()],
            vary: vary.header_value(),
        };
        Self {
            responses: cache.responses::<StoredResponse>(&kind, ttl),
            cache,
            kind,
            vary: Arc::new(vary),
            query: Arc::new(Vec::new()),
            storable: Arc::new(storable),
            key_fn: None,
        }
    }

    /// The kind the responses are stored under: name it in invalidation rules
    /// ([`ResponseKind::target`]) or clear it with [`invalidate`](Self::invalidate).
    pub fn kind(&self) -> &ResponseKind {
        &self.kind
    }

    /// Drops every stored response, on every instance (`Cache::clear_kind` of the kind).
    pub async fn invalidate(&self) -> Result<u64, strata::Error> {
        self.cache.clear_kind(self.kind.name()).await
    }

    /// Varies by these request headers instead of `Authorization` and `Cookie`.
    pub fn vary_by(mut self, headers: Vec<HeaderName>) -> Self {
        let cookies = self.vary.cookies.clone();
        self.set_vary(Vary { headers, cookies });
        self
    }

    fn set_vary(&mut self, vary: Vary) {
        Arc::make_mut(&mut self.storable).vary = vary.header_value();
        self.vary = Arc::new(vary);
    }

    /// Varies by the value of these cookies (the session cookie) instead of the whole `Cookie`
    /// header: anonymous visitors with unrelated cookies share entries, while each session
    /// keeps its own. `Authorization` still counts unless [`vary_by`](Self::vary_by) says
    /// otherwise.
    pub fn vary_by_cookie(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let mut vary = (*self.vary).clone();
        vary.cookies = names.into_iter().map(Into::into).collect();
        if !vary.headers.contains(&COOKIE) {
            vary.headers.push(COOKIE);
        }
        self.set_vary(vary);
        self
    }

    /// The query parameters the route reads. Others are removed from the request before the
    /// handler runs and do not reach the key; the declared ones key the entry in one canonical
    /// spelling (sorted by name, re-encoded).
    pub fn query(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.query = Arc::new(names.into_iter().map(Into::into).collect());
        self
    }

    /// The response content types that may be stored (compared without parameters such as
    /// `charset`), instead of `application/json`.
    pub fn content_types(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Arc::make_mut(&mut self.storable).content_types = types
            .into_iter()
            .map(|t| t.into().trim().to_ascii_lowercase())
            .collect();
        self
    }

    /// Stores these response headers too (content type and caching headers are always kept).
    pub fn keep_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        Arc::make_mut(&mut self.storable).keep.extend(headers);
        self
    }

    /// Chooses keys with `f` instead of path, query and vary headers (`None`: do not cache).
    /// The key must identify everything the response depends on, the user included. Cached
    /// responses still carry the `Vary` of [`vary_by`](Self::vary_by) and
    /// [`vary_by_cookie`](Self::vary_by_cookie): set those to what `f` reads, so that shared
    /// caches downstream split responses the same way.
    pub fn key_fn(
        mut self,
        f: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.key_fn = Some(Arc::new(f));
        self
    }
}

impl<S> Layer<S> for ResponseCacheLayer {
    type Service = ResponseCacheService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponseCacheService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ResponseCacheLayer`].
#[derive(Clone, Debug)]
pub struct ResponseCacheService<S> {
    inner: S,
    layer: ResponseCacheLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for ResponseCacheService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone stays behind.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move { Ok(handle::handle(layer, inner, req).await) })
    }
}
