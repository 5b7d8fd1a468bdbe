//! The environment as a configuration source: `STRATA_<KEY>` variables (nested keys joined with
//! `__`) and `REDIS_URL`, read from whatever variables the caller passes (the process
//! environment, or a test's own list), each key remembered as the variable that set it.
//!
//! A `STRATA_` variable whose first key is no setting (`STRATA_JITER`, `STRATA_L1_MAX_ENTRIES`
//! with one underscore) is left out and reported with the closest setting; the project's own
//! switches ([`TOOL_VARIABLES`]) are left out silently. A typo below a known key
//! (`STRATA_L1__MAX_ENTRYS`) reaches the configuration, which refuses it.

use figment::value::{Dict, Map, Tag, Value};
use figment::{Metadata, Profile, Provider};

use super::{CacheConfig, TOP_LEVEL_KEYS};

/// The prefix of every configuration variable.
const PREFIX: &str = "STRATA_";

/// The name of this source in errors.
pub(super) const SOURCE_NAME: &str = "the environment";

/// `STRATA_` variables that are not configuration: switches of Strata's tests and tools.
pub const TOOL_VARIABLES: &[&str] = &[
    "STRATA_REQUIRE_REDIS",
    "STRATA_REQUIRE_BROWSER",
    "STRATA_BENCH_DIR",
    "STRATA_BENCH_QUICK",
    "STRATA_BENCH_SECONDS",
    "STRATA_BENCH_ROUNDS",
    "STRATA_BENCH_WORKERS",
    "STRATA_FUZZ_SECONDS",
    "STRATA_FUZZ_SEED",
];

/// The configuration variables found in an environment.
#[derive(Debug, Clone)]
pub(super) struct EnvSource {
    /// (key path with `.`, the variable as written, its value); `REDIS_URL` last, so it wins.
    vars: Vec<(String, String, String)>,
    /// One message per `STRATA_` variable that names no setting.
    unknown: Vec<String>,
}

impl EnvSource {
    /// The configuration variables among `vars`.
    pub(super) fn new<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut found = Vec::new();
        let mut redis_url = None;
        let mut unknown = Vec::new();
        for (name, value) in vars {
            let (name, value): (String, String) = (name.into(), value.into());
            if name == "REDIS_URL" {
                redis_url = Some(("backend.url".to_owned(), name, value));
                continue;
            }
            let Some(rest) = strip_prefix_ignore_case(&name, PREFIX) else {
                continue;
            };
            if TOOL_VARIABLES.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            let top = key.split('.').next().unwrap_or_default();
            if TOP_LEVEL_KEYS.contains(&top) {
                found.push((key, name, value));
            } else {
                unknown.push(unknown_variable(&name));
            }
        }
        found.sort();
        found.extend(redis_url);
        Self {
            vars: found,
            unknown,
        }
    }

    /// The messages about variables that name no setting.
    pub(super) fn unknown(&self) -> &[String] {
        &self.unknown
    }
}

impl Provider for EnvSource {
    fn metadata(&self) -> Metadata {
        let names: Vec<(String, String)> = self
            .vars
            .iter()
            .map(|(key, name, _)| (key.clone(), name.clone()))
            .collect();
        Metadata::named(SOURCE_NAME).interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            names
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, name)| name.clone())
                .unwrap_or_else(|| variable_of(&key))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, _, value) in &self.vars {
            let path: Vec<&str> = key.split('.').collect();
            let value: Value = value.parse().unwrap_or_else(|e| match e {});
            insert(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// The variable that sets `key` (`l1.max_entries` -> `STRATA_L1__MAX_ENTRIES`).
pub(super) fn variable_of(key: &str) -> String {
    if key == "backend.url" {
        return "STRATA_BACKEND__URL (or REDIS_URL)".to_owned();
    }
    format!("{PREFIX}{}", key.to_ascii_uppercase().replace('.', "__"))
}

fn insert(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::Dict(Tag::Default, Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// The message for `name`, a `STRATA_` variable that names no setting.
fn unknown_variable(name: &str) -> String {
    let hint = match closest_setting(name) {
        Some(setting) => format!("; did you mean {setting}?"),
        None => "; the settings are listed in docs/configuration.md".to_owned(),
    };
    format!(
        "environment variable {name} names no setting and is ignored{hint} (nested keys are \
         joined with two underscores, e.g. STRATA_L1__MAX_ENTRIES)"
    )
}

/// The setting variable nearest to `name` in edit distance, if it is near.
fn closest_setting(name: &str) -> Option<String> {
    let name = name.to_ascii_uppercase();
    let short = name.strip_prefix(PREFIX).unwrap_or(&name);
    setting_variables()
        .into_iter()
        .map(|v| {
            let distance = super::distance::edit_distance(short, &v[PREFIX.len()..]);
            (distance, v)
        })
        .filter(|(distance, v)| *distance <= 2.max((v.len() - PREFIX.len()) / 4))
        .min()
        .map(|(_, v)| v)
}

/// Every setting as its variable (`STRATA_L1__MAX_ENTRIES`), per-kind ones with `<KIND>`.
pub(super) fn setting_variables() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Value::Dict(_, dict)) = Value::serialize(CacheConfig::default()) {
        leaves(PREFIX, &dict, &mut out);
    }
    out.retain(|v| !["STRATA_TTL", "STRATA_KINDS", "STRATA_BACKEND__QUOTAS"].contains(&v.as_str()));
    out.extend(
        [
            "STRATA_TTL__<KIND>",
            "STRATA_KINDS__<KIND>__TTL",
            "STRATA_KINDS__<KIND>__L1__MAX_BYTES",
            "STRATA_KINDS__<KIND>__L1__MAX_ENTRIES",
            "STRATA_BACKEND__QUOTAS__<KIND>__MAX_ENTRIES",
            "STRATA_BACKEND__QUOTAS__<KIND>__MAX_BYTES",
            "STRATA_BACKEND__QUOTAS__<KIND>__POLICY",
        ]
        .map(String::from),
    );
    out
}

fn leaves(prefix: &str, dict: &Dict, out: &mut Vec<String>) {
    for (key, value) in dict {
        let name = format!("{prefix}{}", key.to_ascii_uppercase());
        match value {
            Value::Dict(_, inner) if !inner.is_empty() => leaves(&format!("{name}__"), inner, out),
            _ => out.push(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_setting_they_meant() {
        assert_eq!(
            closest_setting("STRATA_JITER").as_deref(),
            Some("STRATA_JITTER")
        );
        assert_eq!(
            closest_setting("STRATA_L1_MAX_ENTRIES").as_deref(),
            Some("STRATA_L1__MAX_ENTRIES")
        );
        assert_eq!(closest_setting("STRATA_SOMETHING_ELSE_ENTIRELY"), None);
    }

    #[test]
    fn every_setting_has_a_variable() {
        let all = setting_variables();
        for v in [
            "STRATA_PREFIX",
            "STRATA_ADMIN_TOKEN",
            "STRATA_L1__MAX_LIFETIME",
            "STRATA_BACKEND__URL",
            "STRATA_BREAKER__MIN_CALLS",
        ] {
            assert!(all.iter().any(|a| a == v), "{v} missing from {all:?}");
        }
        assert_eq!(variable_of("l1.max_entries"), "STRATA_L1__MAX_ENTRIES");
    }
}
