//! The tag versions this instance knows, and an epoch that moves whenever one it knew changes
//! or is forgotten: an L1 hit on a tagged entry found current at the epoch still current needs
//! no look at its tags.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use strata_codec::TagVersion;

/// Tag versions by tag (foldhash, randomly seeded), and their epoch.
pub(crate) struct TagTable {
    map: RwLock<HashMap<String, u64, foldhash::fast::RandomState>>,
    /// Moved on (under the write lock, after the change) when a known version changes or is
    /// forgotten; a new tag learnt does not move it (no verdict given before depended on it).
    /// Starts at 1: 0 is "never checked".
    epoch: AtomicU64,
}

impl Default for TagTable {
    fn default() -> Self {
        Self {
            map: RwLock::default(),
            epoch: AtomicU64::new(1),
        }
    }
}

/// The table locked for writing.
pub(crate) type TagsWrite<'a> =
    RwLockWriteGuard<'a, HashMap<String, u64, foldhash::fast::RandomState>>;

impl TagTable {
    /// The versions, for reading.
    pub(crate) fn read(
        &self,
    ) -> RwLockReadGuard<'_, HashMap<String, u64, foldhash::fast::RandomState>> {
        self.map.read()
    }

    /// The versions, for writing: a caller that changes or removes a known version calls
    /// [`moved`](Self::moved) before letting go of the guard.
    pub(crate) fn write(&self) -> TagsWrite<'_> {
        self.map.write()
    }

    /// A known version changed or was forgotten (called under the write lock, after it).
    pub(crate) fn moved(&self, _held: &TagsWrite<'_>) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The epoch, read before a check whose verdict is to be kept with an entry.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Raises `tag` to `version` (learning it if unknown), under `held`.
    pub(crate) fn raise(&self, held: &mut TagsWrite<'_>, tag: &str, version: u64) {
        match held.get_mut(tag) {
            Some(v) if *v < version => {
                *v = version;
                self.moved(held);
            }
            Some(_) => {}
            None => {
                held.insert(tag.to_owned(), version);
            }
        }
    }

    /// Raises `tag` to `version` when it is known.
    pub(crate) fn raise_known(&self, tag: &str, version: u64) {
        let mut held = self.write();
        if let Some(v) = held.get_mut(tag)
            && *v < version
        {
            *v = version;
            self.moved(&held);
        }
    }

    /// Forgets every version.
    pub(crate) fn clear(&self) {
        let mut held = self.write();
        self.clear_held(&mut held);
    }

    /// [`clear`](Self::clear) under `held`.
    pub(crate) fn clear_held(&self, held: &mut TagsWrite<'_>) {
        held.clear();
        self.moved(held);
    }

    /// Forgets the version of `tag`.
    pub(crate) fn remove(&self, tag: &str) {
        let mut held = self.write();
        if held.remove(tag).is_some() {
            self.moved(&held);
        }
    }

    /// Against the known versions: `Some(false)` if a tag moved on, `Some(true)` if all are
    /// known and current, `None` if some are unknown.
    pub(crate) fn verdict(&self, tags: &[TagVersion]) -> Option<bool> {
        let known = self.read();
        let mut all_known = true;
        for t in tags {
            match known.get(&t.tag) {
                Some(v) if *v != t.version => return Some(false),
                Some(_) => {}
                None => all_known = false,
            }
        }
        all_known.then_some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_moves_when_a_known_version_changes_or_goes_never_when_one_is_learnt() {
        let table = TagTable::default();
        let start = table.epoch();
        assert_ne!(start, 0, "0 is never an epoch");
        table.raise(&mut table.write(), "user:1", 5);
        table.raise(&mut table.write(), "user:1", 5);
        table.raise(&mut table.write(), "user:1", 4);
        table.raise_known("user:2", 9);
        assert_eq!(table.epoch(), start, "learnt, unchanged, or unknown");
        let current = [TagVersion::new("user:1".to_owned(), 5)];
        assert_eq!(table.verdict(&current), Some(true));
        assert_eq!(
            table.verdict(&[TagVersion::new("user:2".to_owned(), 1)]),
            None
        );

        table.raise_known("user:1", 6);
        assert_eq!(table.epoch(), start + 1);
        assert_eq!(table.verdict(&current), Some(false));
        table.raise(&mut table.write(), "user:1", 7);
        assert_eq!(table.epoch(), start + 2);
        table.remove("user:3");
        assert_eq!(table.epoch(), start + 2, "nothing known to forget");
        table.remove("user:1");
        assert_eq!(table.epoch(), start + 3);
        table.clear();
        assert_eq!(table.epoch(), start + 4);
    }
}
