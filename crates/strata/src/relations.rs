//! Declared relations: what a miss of a kind will also need (whoami:U needs user:U and
//! profile:U), so that its lookup reads and leases those entries in the same round trip.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use strata_keys::Key;

use crate::kinds::KindState;

/// The related kinds of each kind that declared some (the same id in every kind).
#[derive(Default)]
pub(crate) struct Relations {
    by_kind: RwLock<HashMap<String, Vec<Arc<KindState>>>>,
}

impl Relations {
    /// Declares that a miss of `kind` will need the entry of `needs` with the same id.
    pub(crate) fn add(&self, kind: &str, needs: Arc<KindState>) {
        let mut map = self.by_kind.write();
        let list = map.entry(kind.to_owned()).or_default();
        let same =
            |k: &Arc<KindState>| k.name() == needs.name() && k.keys.schema() == needs.keys.schema();
        if !list.iter().any(same) {
            list.push(needs);
        }
    }

    /// Whether `kind` declared relations.
    pub(crate) fn declared(&self, kind: &str) -> bool {
        let map = self.by_kind.read();
        !map.is_empty() && map.contains_key(kind)
    }

    /// The related entries of `key` (an entry of `kind`): each related kind with its key.
    pub(crate) fn of(&self, kind: &KindState, key: &Key) -> Vec<(Arc<KindState>, Key)> {
        let map = self.by_kind.read();
        let Some(related) = map.get(kind.name()) else {
            return Vec::new();
        };
        related
            .iter()
            .filter_map(|r| Some((r.clone(), r.keys.same_id(key, &kind.keys)?)))
            .filter(|(_, k)| k != key)
            .collect()
    }
}
