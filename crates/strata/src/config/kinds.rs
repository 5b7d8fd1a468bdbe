//! Per-kind settings: the `[kinds.<kind>]` table, its `[ttl]` shorthand, and the check that
//! every kind they name is one the application declared.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::CacheConfig;
use super::check::Invalid;
use super::distance::edit_distance;

/// The settings of one kind, written `[kinds.<kind>]` (`STRATA_KINDS__<KIND>__TTL`).
///
/// `[ttl] <kind> = "..."` is a shorthand for `ttl`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KindSettings {
    /// The kind's TTL; overrides the TTL given in code (`#[cacheable(ttl)]`, `#[cached(ttl)]`,
    /// a response cache's TTL). Unset: the code's TTL, else `default_ttl`.
    #[serde(
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// Whether the kind keeps a hot-key sketch (unset: `[hot_keys] enabled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_keys: Option<bool>,
    /// Refresh in a background task (through the loader registered with
    /// [`KindCache::register_loader`](crate::KindCache::register_loader)) instead of inline:
    /// a value due for refresh, or stale within `max_stale`, is served while one task reloads
    /// it under the key's lease (default false; `LoadOptions::background_refresh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_refresh: Option<bool>,
    /// Refresh-ahead: reload once a value has lived this fraction of its TTL, in (0, 1]
    /// (default none; `LoadOptions::refresh_ahead`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_ahead: Option<f64>,
    /// XFetch's β, at least 1: readers refresh early with probability `exp(−gap / (δ·β))`
    /// (default none: off; `LoadOptions::xfetch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xfetch_beta: Option<f64>,
    /// The kind's own L1 partition, `[kinds.<kind>.l1]`: a budget of its own, so a flood of
    /// this kind evicts only its own entries (unset: the kind shares the default pool, `[l1]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l1: Option<L1Budget>,
    /// The named backend holding the kind's entries and its generation counter: a
    /// `[backends.<name>]` table (unset: `[backend]`). Tag counters stay in `[backend]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

/// A kind's own L1 budget, `[kinds.<kind>.l1]` (`STRATA_KINDS__<KIND>__L1__MAX_BYTES`): its
/// entries live in an L1 store of their own, apart from the default pool that `[l1]` bounds.
///
/// At least one of the two must be given; the other is then `[l1]`'s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct L1Budget {
    /// Bytes held by the kind's decoded values (unset: `l1.max_bytes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Most entries of the kind (unset: `l1.max_entries`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
}

impl L1Budget {
    /// A budget of `bytes` bytes.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// A budget of `entries` entries.
    pub fn with_max_entries(mut self, entries: u64) -> Self {
        self.max_entries = Some(entries);
        self
    }
}

// The floats are refused unless finite (see `validate_kinds`): equality is an equivalence.
impl Eq for KindSettings {}

impl KindSettings {
    /// Settings with this TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl CacheConfig {
    /// The TTL configured for `kind` (`[kinds.<kind>] ttl` or its `[ttl]` shorthand), if any.
    pub fn configured_ttl(&self, kind: &str) -> Option<Duration> {
        self.kinds
            .get(kind)
            .and_then(|k| k.ttl)
            .or_else(|| self.ttl.get(kind).copied())
    }

    /// The TTL of `kind` when the code gives none: its configured TTL, or `default_ttl`.
    pub fn ttl_of(&self, kind: &str) -> Duration {
        self.configured_ttl(kind).unwrap_or(self.default_ttl)
    }

    /// Every kind the configuration has settings for, each with the key that names it
    /// (`ttl.<kind>` or `kinds.<kind>`).
    pub fn configured_kinds(&self) -> BTreeMap<&str, String> {
        let mut out = BTreeMap::new();
        for kind in self.kinds.keys() {
            out.insert(kind.as_str(), format!("kinds.{kind}"));
        }
        for kind in self.ttl.keys() {
            out.entry(kind.as_str())
                .or_insert_with(|| format!("ttl.{kind}"));
        }
        out
    }

    /// The L1 budget of `kind`'s own partition, `(max_bytes, max_entries)`, when it has one
    /// (the unset half taken from `[l1]`).
    pub fn l1_budget_of(&self, kind: &str) -> Option<(u64, u64)> {
        let b = self.kinds.get(kind)?.l1?;
        Some((
            b.max_bytes.unwrap_or(self.l1.max_bytes),
            b.max_entries.unwrap_or(self.l1.max_entries),
        ))
    }

    /// Checks the per-kind L1 budgets: a value given, none zero, and L1 on.
    fn validate_budgets(&self) -> Result<(), Invalid> {
        for (kind, settings) in &self.kinds {
            let Some(budget) = settings.l1 else { continue };
            let key = format!("kinds.{kind}.l1");
            if budget.max_bytes.is_none() && budget.max_entries.is_none() {
                return Err(Invalid::new(
                    key,
                    "a budget without a value: give max_bytes, max_entries or both \
                     (or remove the table: the kind then shares the default pool, [l1])",
                ));
            }
            if budget.max_bytes == Some(0) || budget.max_entries == Some(0) {
                return Err(Invalid::new(
                    key,
                    "max_bytes and max_entries must be positive (remove the table to share \
                     the default pool)",
                ));
            }
            if !self.l1.enabled {
                return Err(Invalid::new(
                    key,
                    "a kind's L1 budget needs the L1 (l1.enabled is false)",
                ));
            }
        }
        Ok(())
    }

    /// The name of the backend `kind` is routed to (`[kinds.<kind>] backend`), if any.
    pub fn backend_of(&self, kind: &str) -> Option<&str> {
        self.kinds.get(kind)?.backend.as_deref()
    }

    /// Checks the routes of kinds to named backends: every name is a `[backends.<name>]` table,
    /// and every table is used by some kind.
    fn validate_routes(&self) -> Result<(), Invalid> {
        let known = || {
            let names: Vec<&str> = self.backends.keys().map(String::as_str).collect();
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        for (kind, settings) in &self.kinds {
            let Some(name) = &settings.backend else {
                continue;
            };
            if !self.backends.contains_key(name) {
                return Err(Invalid::new(
                    format!("kinds.{kind}.backend"),
                    format!(
                        "no backend is named `{name}` (named backends: {}): add a \
                         [backends.{name}] table with its url, or remove the key to keep the \
                         kind in [backend]",
                        known()
                    ),
                ));
            }
        }
        for name in self.backends.keys() {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(Invalid::new(
                    format!("backends.{name}"),
                    "a backend's name is letters, digits, `_` and `-`",
                ));
            }
            if !self
                .kinds
                .values()
                .any(|k| k.backend.as_deref() == Some(name))
            {
                return Err(Invalid::new(
                    format!("backends.{name}"),
                    format!(
                        "no kind is routed to backend `{name}`: route one with \
                         [kinds.<kind>] backend = \"{name}\", or remove the table"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the per-kind settings: valid kind names, no TTL of zero, no TTL given twice.
    pub(super) fn validate_kinds(&self) -> Result<(), Invalid> {
        self.validate_budgets()?;
        self.validate_routes()?;
        for (kind, key) in self.configured_kinds() {
            strata_keys::KindName::new(kind).map_err(|e| Invalid::new(key, e.to_string()))?;
        }
        for (kind, ttl) in &self.ttl {
            if ttl.is_zero() {
                return Err(Invalid::new(format!("ttl.{kind}"), "a TTL of zero"));
            }
            if self.kinds.get(kind).is_some_and(|k| k.ttl.is_some()) {
                return Err(Invalid::new(
                    format!("ttl.{kind}"),
                    format!(
                        "the TTL of kind `{kind}` is set twice, as ttl.{kind} and as \
                         kinds.{kind}.ttl: keep one ([ttl] is a shorthand for [kinds.<kind>] ttl)"
                    ),
                ));
            }
        }
        for (kind, settings) in &self.kinds {
            if settings.ttl.is_some_and(|t| t.is_zero()) {
                return Err(Invalid::new(format!("kinds.{kind}.ttl"), "a TTL of zero"));
            }
            if let Some(f) = settings.refresh_ahead.filter(|f| !(*f > 0.0 && *f <= 1.0)) {
                return Err(Invalid::new(
                    format!("kinds.{kind}.refresh_ahead"),
                    format!("{f} is outside (0, 1] (a fraction of the TTL)"),
                ));
            }
            if let Some(b) = settings
                .xfetch_beta
                .filter(|b| !(b.is_finite() && *b >= 1.0))
            {
                return Err(Invalid::new(
                    format!("kinds.{kind}.xfetch_beta"),
                    format!("{b} is not a finite number of at least 1"),
                ));
            }
        }
        Ok(())
    }

    /// One message per configured kind that is not in `declared`, naming the key, the declared
    /// kinds and the closest one.
    pub(crate) fn undeclared_kinds(&self, declared: &BTreeSet<String>) -> Vec<String> {
        let list = if declared.is_empty() {
            "none".to_owned()
        } else {
            declared
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.configured_kinds()
            .into_iter()
            .filter(|(kind, _)| !declared.contains(*kind))
            .map(|(kind, key)| {
                let hint = closest(kind, declared)
                    .map(|d| format!("; did you mean `{d}`?"))
                    .unwrap_or_default();
                format!(
                    "`{key}` names no declared kind (declared: {list}){hint} It applies to \
                     the kind `{kind}` if the code uses it, but a typo here would go unnoticed: \
                     declare the kinds the code uses with CacheBuilder::declare::<T>() or \
                     declare_kind(\"...\") (a kind in use counts as declared once used)"
                )
            })
            .collect()
    }
}

/// The declared kind nearest to `kind` in edit distance, if it is near (a typo, a plural).
fn closest<'a>(kind: &str, declared: &'a BTreeSet<String>) -> Option<&'a str> {
    declared
        .iter()
        .map(|d| (edit_distance(kind, d), d))
        .filter(|(distance, d)| *distance <= 2.max(d.len() / 4))
        .min()
        .map(|(_, d)| d.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_declared_kind_is_suggested() {
        let declared: BTreeSet<String> = ["product", "user"].map(String::from).into();
        assert_eq!(closest("products", &declared), Some("product"));
        assert_eq!(closest("invoice", &declared), None);
    }
}
