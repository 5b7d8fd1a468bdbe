//! What configuration refuses, and how a refusal names the key: as the user wrote it (the
//! file's key, `l1.max_entrys` in strata.toml, or the variable, `STRATA_L1__MAX_ENTRYS`),
//! never with figment's profile.

use crate::error::ConfigProblem;
use std::time::Duration;

use figment::Figment;
use figment::error::Kind;
use figment::{Metadata, Profile};

use super::CacheConfig;
use super::env::{SOURCE_NAME, variable_of};

/// A value that parses but makes no sense: its key (dotted) and the problem.
#[derive(Debug)]
pub(super) struct Invalid {
    pub(super) key: String,
    pub(super) problem: String,
}

impl Invalid {
    pub(super) fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl CacheConfig {
    /// Checks values that parse but make no sense; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.check()
            .map_err(|i| format!("invalid value for key `{}`: {}", i.key, i.problem))
    }

    /// [`validate`](Self::validate), with the key apart.
    pub(super) fn check(&self) -> Result<(), Invalid> {
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(Invalid::new(
                "jitter",
                format!("{} is outside 0.0..=0.5", self.jitter),
            ));
        }
        self.validate_kinds()?;
        // max_stale may be zero: no fail-safe serving, entries leave the backend at their TTL.
        for (key, d) in [
            ("default_ttl", self.default_ttl),
            ("negative_ttl", self.negative_ttl),
            ("operation_timeout", self.operation_timeout),
            ("change_timeout", self.change_timeout),
            ("l1.max_lifetime", self.l1.max_lifetime),
            ("l1.verified_within", self.l1.verified_within),
            ("backend.connect_timeout", self.backend.connect_timeout),
            ("breaker.window", self.breaker.window),
        ] {
            refuse_zero(key, d, "")?;
        }
        refuse_zero(
            "breaker.cooldown",
            self.breaker.cooldown,
            " (set breaker.failures = 0 to turn the breaker off)",
        )?;
        if !(0.0..=1.0).contains(&self.breaker.failure_rate) {
            return Err(Invalid::new(
                "breaker.failure_rate",
                format!("{} is outside 0.0..=1.0", self.breaker.failure_rate),
            ));
        }
        if self.l1.max_entries == 0 || self.l1.max_bytes == 0 {
            return Err(Invalid::new(
                "l1",
                "max_entries and max_bytes must be positive (set l1.enabled = false to turn L1 off)",
            ));
        }
        if let Some(token) = &self.admin_token
            && token.trim().is_empty()
        {
            return Err(Invalid::new(
                "admin_token",
                "empty: no request could authenticate; set a token or leave it unset",
            ));
        }
        strata_keys::KeySpace::new(&self.prefix, &self.app_version)
            .map_err(|e| Invalid::new("prefix", e.to_string()))?;
        Ok(())
    }
}

fn refuse_zero(key: &str, d: Duration, hint: &str) -> Result<(), Invalid> {
    if d.is_zero() {
        return Err(Invalid::new(key, format!("zero{hint}")));
    }
    Ok(())
}

/// `key` (dotted) as the source that set it in `figment` spells it.
pub(super) fn key_as_written(figment: &Figment, key: &str) -> String {
    let metadata = figment.find_metadata(key);
    let path: Vec<&str> = key.split('.').collect();
    place(metadata, &path)
}

/// The key at `path` named after `metadata`'s source: `` `l1.max_entrys` in /srv/strata.toml``,
/// `environment variable STRATA_L1__MAX_ENTRYS`, or `` `l1.max_entrys` ``.
fn place<K: AsRef<str>>(metadata: Option<&Metadata>, path: &[K]) -> String {
    let key = path.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(".");
    match metadata {
        Some(md) if md.name == SOURCE_NAME => {
            format!(
                "environment variable {}",
                md.interpolate(&Profile::Default, path)
            )
        }
        Some(md) => match &md.source {
            Some(figment::Source::File(file)) => format!("`{key}` in {}", file.display()),
            _ => format!("`{key}`"),
        },
        None => format!("`{key}`"),
    }
}

/// One figment error as a problem of the setting it concerns (dotted), in the user's terms.
pub(super) fn problem(e: &figment::Error) -> ConfigProblem {
    let mut path = e.path.clone();
    if let Kind::UnknownField(field, _) = &e.kind
        && path.last() != Some(field)
    {
        path.push(field.clone());
    }
    let setting = (!path.is_empty()).then(|| path.join("."));
    ConfigProblem::new(setting, describe(e))
}

/// One figment error in the user's terms: the key as written, no profile, no nested quotes.
pub(super) fn describe(e: &figment::Error) -> String {
    let metadata = e.metadata.as_ref();
    match &e.kind {
        Kind::UnknownField(field, expected) => {
            let mut path = e.path.clone();
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            let hint = expected
                .iter()
                .map(|x| (super::distance::edit_distance(field, x), *x))
                .filter(|(d, x)| *d <= 2.max(x.len() / 4))
                .min()
                .map(|(_, x)| format!("did you mean {}? ", spelled(metadata, &path, x)))
                .unwrap_or_default();
            let what = match metadata {
                Some(md) if md.name == SOURCE_NAME => {
                    format!("{} names no setting", place(metadata, &path))
                }
                _ => format!("unknown key {}", place(metadata, &path)),
            };
            format!("{what}: {hint}expected one of {}", expected.join(", "))
        }
        kind if e.path.is_empty() => match metadata {
            Some(md) => format!("{kind} in {}", source_of(md)),
            None => kind.to_string(),
        },
        kind => format!("invalid value for {}: {kind}", place(metadata, &e.path)),
    }
}

/// `alternative` in place of the last key of `path`, spelled as its source would.
fn spelled(metadata: Option<&Metadata>, path: &[String], alternative: &str) -> String {
    let mut key: Vec<&str> = path.iter().map(String::as_str).collect();
    key.pop();
    key.push(alternative);
    match metadata {
        Some(md) if md.name == SOURCE_NAME => variable_of(&key.join(".")),
        _ => format!("`{}`", key.join(".")),
    }
}

fn source_of(md: &Metadata) -> String {
    match &md.source {
        Some(figment::Source::File(file)) => file.display().to_string(),
        _ => md.name.to_string(),
    }
}
