//! Whether an entry is current: its recorded kind generation and tag versions against the
//! ones this instance knows, or reads from the backend when it does not know them.

use strata_codec::TagVersion;

use super::{KindGeneration, Versions};

impl Versions {
    /// Whether an entry of `kind` that recorded `generation` and `tags` is still current.
    pub(crate) async fn is_current(
        &self,
        kind: &str,
        known: &KindGeneration,
        recorded: (u64, Option<&[TagVersion]>),
    ) -> bool {
        if let Some(verdict) = self.is_current_here(kind, known, recorded) {
            return verdict;
        }
        let (generation, tags) = recorded;
        if generation != self.generation(kind, known).await {
            return false;
        }
        let Some(tags) = tags else { return true };
        if self.trusted()
            && let Some(verdict) = self.tags.verdict(tags)
        {
            return verdict;
        }
        let names: Vec<String> = tags.iter().map(|t| t.tag.clone()).collect();
        match self.tag_versions(&names).await {
            Some(now) => now.iter().zip(tags).all(|(a, b)| a.version == b.version),
            None => false,
        }
    }

    /// [`is_current`](Self::is_current) from what this instance knows, when that is enough:
    /// the kind's generation trusted and known, and the tags (if any) judged by the local
    /// versions; `None` when the backend must be read.
    pub(crate) fn is_current_here(
        &self,
        kind: &str,
        known: &KindGeneration,
        (generation, tags): (u64, Option<&[TagVersion]>),
    ) -> Option<bool> {
        match known.load() {
            (g, true) if self.trusted_kind(kind) && g != generation => Some(false),
            (_, true) if self.trusted_kind(kind) => match tags {
                None => Some(true),
                Some(tags) if self.trusted() => self.tags.verdict(tags),
                Some(_) => None,
            },
            _ => None,
        }
    }

    /// The tag epoch (see [`TagTable`](crate::tag_table::TagTable)), read before a check whose verdict an entry keeps.
    #[inline]
    pub(crate) fn tag_epoch(&self) -> u64 {
        self.tags.epoch()
    }

    /// Whether a tagged entry found current at tag epoch `checked` (0: never) still is, as far
    /// as its tags go: the local versions are trusted, and none it knew moved since.
    #[inline]
    pub(crate) fn tags_unmoved_since(&self, checked: u64) -> bool {
        (self.trust_local || self.changes.is_some()) && checked == self.tags.epoch()
    }

    /// Whether an untagged read of the kind whose generation is `known` needs no counter from
    /// the backend ([`read_into`](Self::read_into) would add none).
    pub(crate) fn known_here(&self, kind: &str, known: &KindGeneration) -> bool {
        !self.shared_kind(kind) || (self.trusted_kind(kind) && known.load().1)
    }
}
