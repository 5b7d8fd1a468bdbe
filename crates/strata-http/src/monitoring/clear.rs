//! `POST clear-cache/`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{State, auth, body};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearRequest {
    kind: Option<String>,
    /// With `kind`: one entity of the kind (a string or a number), under every schema.
    id: Option<serde_json::Value>,
    key: Option<String>,
    tag: Option<String>,
    all: Option<bool>,
}

const EXPECTED: &str = "{\"kind\": \"user\"} | {\"kind\": \"user\", \"id\": 42} | {\"key\": \"...\"} | {\"tag\": \"user:42\"} | {\"all\": true}";

/// What a clear-cache request asks for, checked.
enum Clear {
    /// Every entry of a kind (its generation moves).
    Kind(String),
    /// One entity of a kind, under every schema.
    Entity { kind: String, id: String },
    /// One key of this cache's namespace.
    Key(String),
    /// Every entry carrying a tag.
    Tag(String),
    /// Everything under the namespace.
    All,
}

pub(crate) async fn handler(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    let req: ClearRequest = body::json(body, state.config.max_body_bytes, EXPECTED)?;
    let clear = req.check(&state.cache)?;
    clear.run(&state.cache).await
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn backend_failed(e: strata::Error) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the cache backend failed: {e}"),
    )
}

impl ClearRequest {
    /// The one thing the request names, or why it names none (or several, or a wrong one).
    fn check(self, cache: &strata::Cache) -> Result<Clear, ApiError> {
        let chosen = [
            self.kind.is_some(),
            self.key.is_some(),
            self.tag.is_some(),
            self.all.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if chosen != 1 {
            return Err(bad_request(
                "give exactly one of `kind` (with an optional `id`), `key`, `tag`, `all`",
            ));
        }
        if self.id.is_some() && self.kind.is_none() {
            return Err(bad_request(
                "`id` goes with `kind`: {\"kind\": \"user\", \"id\": 42}",
            ));
        }
        if let Some(kind) = self.kind {
            return check_kind(cache, kind, self.id);
        }
        if let Some(key) = self.key {
            let namespace = cache.admin().backend().namespace();
            if !key.starts_with(namespace) {
                return Err(bad_request(format!(
                    "key {key:?} is outside this cache's namespace {namespace:?}"
                )));
            }
            return Ok(Clear::Key(key));
        }
        if let Some(tag) = self.tag {
            if tag.is_empty() {
                return Err(bad_request("`tag` is empty"));
            }
            return Ok(Clear::Tag(tag));
        }
        if self.all != Some(true) {
            return Err(bad_request("`all` must be true"));
        }
        Ok(Clear::All)
    }
}

/// A kind this cache knows, with an optional entity id (a non-empty string or a number).
fn check_kind(
    cache: &strata::Cache,
    kind: String,
    id: Option<serde_json::Value>,
) -> Result<Clear, ApiError> {
    let known = known_kinds(cache);
    if !known.contains(&kind) {
        return Err(
            ApiError::new(StatusCode::NOT_FOUND, format!("unknown kind {kind:?}"))
                .with(serde_json::json!({ "known_kinds": known })),
        );
    }
    let id = match id {
        None => return Ok(Clear::Kind(kind)),
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(bad_request(format!(
                "`id` must be a non-empty string or a number, got {other}"
            )));
        }
    };
    Ok(Clear::Entity { kind, id })
}

impl Clear {
    /// Clears what was asked and says what was done.
    async fn run(self, cache: &strata::Cache) -> Result<Json<serde_json::Value>, ApiError> {
        let answer = match self {
            Self::Kind(kind) => {
                let generation = cache.clear_kind(&kind).await.map_err(backend_failed)?;
                serde_json::json!({ "cleared": "kind", "kind": kind, "generation": generation })
            }
            Self::Entity { kind, id } => return clear_entity(cache, kind, id).await,
            Self::Key(key) => {
                let removed = cache
                    .admin()
                    .delete_key(&key)
                    .await
                    .map_err(backend_failed)?;
                serde_json::json!({ "cleared": "key", "key": key, "removed": u64::from(removed) })
            }
            Self::Tag(tag) => {
                let version = cache.invalidate_tag(&tag).await.map_err(backend_failed)?;
                serde_json::json!({ "cleared": "tag", "tag": tag, "version": version })
            }
            Self::All => {
                let removed = cache.clear().await.map_err(backend_failed)?;
                serde_json::json!({ "cleared": "all", "removed": removed })
            }
        };
        Ok(Json(answer))
    }
}

/// Removes one entity of `kind` under every schema any instance registered, in both tiers and
/// on every instance (an invalidation with the one target `Target::key(kind, id)`).
async fn clear_entity(
    cache: &strata::Cache,
    kind: String,
    id: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    let target_kind = kind.clone();
    let rules = strata::Rules::new().on("clear-cache", move |id| {
        vec![strata::Target::key(target_kind.clone(), id)]
    });
    let done = cache
        .invalidate(&rules, "clear-cache", &id)
        .await
        .map_err(backend_failed)?;
    Ok(Json(serde_json::json!({
        "cleared": "entry",
        "kind": kind,
        "id": id,
        "removed": done.deleted,
        "deferred": done.deferred,
    })))
}

/// Kinds this cache knows: declared, configured, or counted.
pub(crate) fn known_kinds(cache: &strata::Cache) -> Vec<String> {
    cache.admin().known_kinds()
}
