//! What the layer does with one request: the route, decided once, then one function per route.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, HeaderMap, IF_NONE_MATCH};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use strata::{Key, LoadError, LoadOptions};
use tower::Service;

use super::ResponseCacheLayer;
use super::X_CACHE;
use super::key;
use super::stored::{Storable, StoredResponse};

/// What the layer does with a request, decided from its method, its key and `Cache-Control`.
enum Route {
    /// Not for the cache (neither GET nor HEAD, no key, HEAD with `no-cache`): the handler
    /// answers, marked BYPASS.
    PassThrough(Request<Body>),
    /// HEAD: answered from a stored response when there is one; never stored (no body).
    Head(Cacheable),
    /// GET with `Cache-Control: no-cache`: the handler answers and its response refreshes
    /// the entry when it may be stored.
    Refresh(Cacheable),
    /// GET: a stored response, or one handler call per key whose response is stored.
    Load(Cacheable),
}

/// A request the cache may answer, with its entry.
struct Cacheable {
    parts: http::request::Parts,
    body: Body,
    id: String,
    key: Key,
    if_none_match: Option<HeaderValue>,
}

impl Cacheable {
    fn into_request(self) -> Request<Body> {
        Request::from_parts(self.parts, self.body)
    }
}

impl Route {
    /// The route of `req`; its query is cut to the declared parameters on the way.
    fn of(layer: &ResponseCacheLayer, req: Request<Body>) -> Self {
        let head = req.method() == Method::HEAD;
        if req.method() != Method::GET && !head {
            return Self::PassThrough(req);
        }
        let (mut parts, body) = req.into_parts();
        // The handler sees only the declared query parameters, and so does the key.
        let query = key::declared_query(parts.uri.query(), &layer.query);
        if query.as_deref() != parts.uri.query() {
            parts.uri = key::with_query(&parts.uri, query.as_deref());
        }
        let id = match &layer.key_fn {
            Some(f) => f(&parts),
            None => Some(key::request_key(&parts, &layer.vary)),
        };
        let entry = id.and_then(|id| layer.responses.key(&id).ok().map(|key| (id, key)));
        let Some((id, key)) = entry else {
            return Self::PassThrough(Request::from_parts(parts, body));
        };
        let no_cache = asks_no_cache(&parts.headers);
        let request = Cacheable {
            if_none_match: parts.headers.get(IF_NONE_MATCH).cloned(),
            parts,
            body,
            id,
            key,
        };
        match (head, no_cache) {
            (true, true) => Self::PassThrough(request.into_request()),
            (true, false) => Self::Head(request),
            (false, true) => Self::Refresh(request),
            (false, false) => Self::Load(request),
        }
    }
}

/// `Cache-Control: no-cache` or `no-store` on the request.
fn asks_no_cache(headers: &HeaderMap) -> bool {
    headers.get_all(CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|d| matches!(d.trim(), "no-cache" | "no-store"))
        })
    })
}

/// Answers one request: decides its route, then follows it.
pub(super) async fn handle<S>(
    layer: ResponseCacheLayer,
    inner: S,
    req: Request<Body>,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    match Route::of(&layer, req) {
        Route::PassThrough(req) => mark(call_inner(inner, req).await, "BYPASS"),
        Route::Head(request) => serve_head(&layer, inner, request).await,
        Route::Refresh(request) => refresh(&layer, inner, request).await,
        Route::Load(request) => serve_or_load(&layer, inner, request).await,
    }
}

/// Sets `X-Cache` on a response the handler produced.
fn mark(mut resp: Response<Body>, x_cache: &'static str) -> Response<Body> {
    resp.headers_mut()
        .insert(X_CACHE.clone(), HeaderValue::from_static(x_cache));
    resp
}

async fn call_inner<S>(mut inner: S, req: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    match inner.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A response's head and its whole body, or the head alone when the body failed.
async fn collect(
    resp: Response<Body>,
) -> Result<(http::response::Parts, Bytes), http::response::Parts> {
    let (parts, body) = resp.into_parts();
    match body.collect().await {
        Ok(c) => Ok((parts, c.to_bytes())),
        Err(_) => Err(parts),
    }
}

/// HEAD reads the cache but never fills it (its body is empty).
async fn serve_head<S>(layer: &ResponseCacheLayer, inner: S, request: Cacheable) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    if let Ok(Some(hit)) = layer.responses.get_at(&request.key).await {
        let nm = hit.matches(request.if_none_match.as_ref());
        return layer.storable.respond(&hit, true, nm, "HIT");
    }
    mark(call_inner(inner, request.into_request()).await, "BYPASS")
}

/// no-cache: the fresh response refreshes the cache when it may be stored.
async fn refresh<S>(layer: &ResponseCacheLayer, inner: S, request: Cacheable) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let id = request.id.clone();
    let resp = call_inner(inner, request.into_request()).await;
    let (resp_parts, bytes) = match collect(resp).await {
        Ok(collected) => collected,
        Err(resp_parts) => return mark(Response::from_parts(resp_parts, Body::empty()), "BYPASS"),
    };
    if !layer
        .storable
        .allows(resp_parts.status, &resp_parts.headers)
    {
        return mark(
            Response::from_parts(resp_parts, Body::from(bytes)),
            "BYPASS",
        );
    }
    let stored = layer
        .storable
        .capture(resp_parts.status, &resp_parts.headers, bytes);
    let _ = layer.responses.set_arc(&id, Arc::new(stored.clone())).await;
    layer.storable.respond(&stored, false, false, "BYPASS")
}

/// Why a load produced no storable response.
#[derive(Debug)]
struct Uncacheable;

/// This caller's request until its handler call takes it, and what that call left behind:
/// whether it ran, the request's head (kept only when it ran, for a second call), and its
/// response when that could not be stored. One allocation per request; a hit clones nothing.
#[derive(Default)]
struct OwnCall {
    ran: AtomicBool,
    state: Mutex<OwnState>,
}

#[derive(Default)]
struct OwnState {
    request: Option<Request<Body>>,
    parts: Option<http::request::Parts>,
    unstored: Option<Response<Body>>,
}

impl OwnCall {
    /// The request for the handler, its head kept for a later call.
    fn take_request(&self) -> Option<Request<Body>> {
        self.ran.store(true, Ordering::Release);
        let mut state = self.state.lock();
        let (parts, body) = state.request.take()?.into_parts();
        state.parts = Some(parts.clone());
        Some(Request::from_parts(parts, body))
    }

    /// The request for a second handler call: the untouched one if the handler never ran,
    /// else its head with an empty body.
    fn request_again(&self) -> Option<Request<Body>> {
        let mut state = self.state.lock();
        state.request.take().or_else(|| {
            state
                .parts
                .take()
                .map(|parts| Request::from_parts(parts, Body::empty()))
        })
    }

    fn leave_unstored(&self, resp: Response<Body>) {
        self.state.lock().unstored = Some(resp);
    }
}

/// A stored response, or one handler call per key whose response is stored; the caller that
/// ran the handler keeps its own response when it could not be stored.
async fn serve_or_load<S>(
    layer: &ResponseCacheLayer,
    inner: S,
    request: Cacheable,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let Cacheable {
        parts,
        body,
        key,
        if_none_match,
        ..
    } = request;
    let own = Arc::new(OwnCall::default());
    own.state.lock().request = Some(Request::from_parts(parts, body));
    let fallback_inner = inner.clone();
    let outcome = {
        let (own, storable) = (own.clone(), layer.storable.clone());
        layer
            .responses
            .get_or_load_at(&key, &LoadOptions::new(), move || {
                run_handler(inner, storable, own)
            })
            .await
    };
    let ran_handler = own.ran.load(Ordering::Acquire);
    let unstored = own.state.lock().unstored.take();
    match (outcome, unstored) {
        // The handler failed (5xx) and a stale copy was served instead.
        (Ok(stored), Some(fresh)) if fresh.status().is_server_error() => {
            let nm = stored.matches(if_none_match.as_ref());
            layer.storable.respond(&stored, false, nm, "STALE")
        }
        // Any other uncacheable answer of our own handler call is returned as it is.
        (_, Some(fresh)) => mark(fresh, "MISS"),
        (Ok(stored), None) => {
            let nm = stored.matches(if_none_match.as_ref());
            let x_cache = if ran_handler { "MISS" } else { "HIT" };
            layer.storable.respond(&stored, false, nm, x_cache)
        }
        // Another caller's handler call was uncacheable: run ours.
        (Err(LoadError::Loader(_)), None) | (Err(_), None) => match own.request_again() {
            Some(req) => mark(call_inner(fallback_inner, req).await, "BYPASS"),
            None => mark(
                Response::builder()
                    .status(http::StatusCode::SERVICE_UNAVAILABLE)
                    .body(Body::empty())
                    .unwrap_or_default(),
                "BYPASS",
            ),
        },
    }
}

/// The loader of [`serve_or_load`]: runs the handler once and captures its response, or
/// leaves it in `own` when it may not be stored.
async fn run_handler<S>(
    inner: S,
    storable: Arc<Storable>,
    own: Arc<OwnCall>,
) -> Result<StoredResponse, Uncacheable>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let Some(request) = own.take_request() else {
        return Err(Uncacheable);
    };
    let resp = call_inner(inner, request).await;
    let (p, bytes) = match collect(resp).await {
        Ok(collected) => collected,
        Err(p) => {
            own.leave_unstored(Response::from_parts(p, Body::empty()));
            return Err(Uncacheable);
        }
    };
    if storable.allows(p.status, &p.headers) {
        Ok(storable.capture(p.status, &p.headers, bytes))
    } else {
        own.leave_unstored(Response::from_parts(p, Body::from(bytes)));
        Err(Uncacheable)
    }
}
