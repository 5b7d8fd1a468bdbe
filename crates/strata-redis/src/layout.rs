//! Where keys live. On one server an entry is stored under its own name and its load lease
//! under `{key}#lease`. On a Redis Cluster every script and transaction must stay within one
//! hash slot, so physical names carry hash tags:
//!
//! - the lease of an entry without braces is `{key}#lease{{key}}` (hashed on the key, so it
//!   shares the entry's slot); an entry with a hash tag of its own keeps `{key}#lease`;
//! - an entry of a kind with a quota is stored as `{key}{{rest}}`, where `rest` is the quota's
//!   prefix without the namespace, and so are the quota's index keys: the whole kind lives in
//!   one slot, which is what lets one script see the kind's index and its keys atomically (and
//!   is the hot-spot trade-off documented in docs/operations.md).
//!
//! Scans translate physical names back, so callers only ever see the standalone names.

use std::borrow::Cow;

use strata_backend::{BackendError, BackendResult, lease_key};

use crate::RedisBackend;
use crate::quota::quota_of;

/// What Redis Cluster hashes in `key`: the content of the first `{...}` when it is non-empty.
pub(crate) fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let close = key[open + 1..].find('}')?;
    (close > 0).then(|| &key[open + 1..open + 1 + close])
}

/// The quota hash tag for a quota prefix's part after the namespace.
pub(crate) fn quota_tag(rest: &str) -> String {
    format!("{{{rest}}}")
}

impl RedisBackend {
    /// The physical name of entry `key`.
    pub(crate) fn entry_key<'a>(&self, key: &'a str) -> BackendResult<Cow<'a, str>> {
        if !self.cluster {
            return Ok(Cow::Borrowed(key));
        }
        let Some(tag) = quota_of(&self.quotas, key).and_then(|q| q.tag.as_deref()) else {
            return Ok(Cow::Borrowed(key));
        };
        if key.contains(['{', '}']) {
            return Err(BackendError::invalid_input(format!(
                "key {key:?} has hash-tag braces; on a cluster a kind with a quota keeps its \
                 entries in its quota's slot and cannot take keys that choose their own"
            )));
        }
        Ok(Cow::Owned(format!("{key}{tag}")))
    }

    /// The physical name of the lease of the entry stored at `physical`.
    pub(crate) fn lease_of(&self, physical: &str) -> BackendResult<String> {
        if !self.cluster || hash_tag(physical).is_some() {
            return Ok(lease_key(physical));
        }
        if physical.contains(['{', '}']) {
            return Err(BackendError::invalid_input(format!(
                "key {physical:?} has unbalanced hash-tag braces: on a cluster its load lease \
                 could not share its slot"
            )));
        }
        Ok(format!("{}{{{physical}}}", lease_key(physical)))
    }

    /// The physical names of entry `key` and of its lease.
    pub(crate) fn entry_and_lease<'a>(
        &self,
        key: &'a str,
    ) -> BackendResult<(Cow<'a, str>, String)> {
        let physical = self.entry_key(key)?;
        let lease = self.lease_of(&physical)?;
        Ok((physical, lease))
    }

    /// The name a caller knows for the physical key `physical` (the inverse of the above).
    pub(crate) fn logical_name(&self, physical: String) -> String {
        if !self.cluster {
            return physical;
        }
        // `{key}#lease{{key}}`.
        if let Some(inner) = physical.strip_suffix('}') {
            if let Some((key, tagged)) = inner.split_once("#lease{") {
                if key == tagged {
                    return lease_key(key);
                }
            }
        }
        for q in self.quotas.iter() {
            let Some(tag) = q.tag.as_deref() else {
                continue;
            };
            if let Some(at) = physical.find(tag) {
                let candidate = format!("{}{}", &physical[..at], &physical[at + tag.len()..]);
                let base = candidate.strip_suffix("#lease").unwrap_or(&candidate);
                let ours = base.starts_with(&q.quota.prefix)
                    || [&q.lru, &q.exp, &q.size, &q.totals]
                        .iter()
                        .any(|k| k.as_str() == physical);
                if ours {
                    return candidate;
                }
            }
        }
        physical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_follow_the_cluster_rule() {
        assert_eq!(hash_tag("a{b}c"), Some("b"));
        assert_eq!(hash_tag("a{}c{d}"), None);
        assert_eq!(hash_tag("a{b"), None);
        assert_eq!(hash_tag("a}b{c}"), Some("c"));
        assert_eq!(hash_tag("plain"), None);
    }
}
