//! Invalidation for Strata: what a change to an entity invalidates, declared once, and the bus
//! that carries invalidations to the other instances.
//!
//! Each kind of change is declared once, with the entries, kinds and tags it makes stale, so
//! handlers name the change (`"order"`, id 42) instead of repeating its consequences;
//! `strata::Cache::invalidate(&rules, change, id)` applies them (deleting keys in both tiers,
//! clearing kinds, and telling the other instances over the bus). Kinds are named by their
//! type ([`Target::of`], [`Target::all_of`]) or by their name.
//!
//! # Usage
//!
//! ```
//! use strata_invalidation::{CacheKind, Rules, Target};
//!
//! struct Customer;
//! impl CacheKind for Customer { const KIND: &'static str = "customer"; }
//! struct Order;
//! impl CacheKind for Order { const KIND: &'static str = "order"; }
//!
//! let rules = Rules::new()
//!     .on("customer", |id| vec![
//!         Target::of::<Customer>(id),
//!         Target::tag(format!("customer:{id}")),
//!     ])
//!     .on("order", |id| vec![Target::of::<Order>(id), Target::kind("api.orders")]);
//!
//! let targets = rules.targets("order", "42")?;
//! assert_eq!(targets[0], Target::key("order", "42"));
//! assert_eq!(Target::all_of::<Order>(), Target::kind("order"));
//! assert!(rules.targets("unknown", "1").is_err());
//! # Ok::<(), strata_invalidation::UnknownChange>(())
//! ```
//!
//! # Feature flags
//!
//! None.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

mod bus;
mod subscription;

pub use bus::{Bus, BusEvent, BusMessage, InProcessBus, Invalidation, bus_error};
pub use strata_keys::CacheKind;
pub use subscription::{Subscription, Tracker};

/// Something a change makes stale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// One entry: a kind and an id (every schema version of the kind this instance uses).
    Key {
        /// The kind.
        kind: String,
        /// The id, as rendered in keys.
        id: String,
    },
    /// Every entry of a kind.
    Kind(String),
    /// Every entry carrying a tag.
    Tag(String),
}

impl Target {
    /// The entry of `kind` with `id`.
    pub fn key(kind: impl Into<String>, id: impl fmt::Display) -> Self {
        Self::Key {
            kind: kind.into(),
            id: id.to_string(),
        }
    }

    /// Every entry of `kind`.
    pub fn kind(kind: impl Into<String>) -> Self {
        Self::Kind(kind.into())
    }

    /// The entry of `T`'s kind with `id`: [`Target::key`] with the kind named by its type, so
    /// a misspelt kind does not compile.
    pub fn of<T: CacheKind + ?Sized>(id: impl fmt::Display) -> Self {
        Self::key(T::KIND, id)
    }

    /// Every entry of `T`'s kind: [`Target::kind`] named by its type.
    pub fn all_of<T: CacheKind + ?Sized>() -> Self {
        Self::kind(T::KIND)
    }

    /// Every entry tagged `tag`.
    pub fn tag(tag: impl fmt::Display) -> Self {
        Self::Tag(tag.to_string())
    }
}

type Rule = Arc<dyn Fn(&str) -> Vec<Target> + Send + Sync>;

/// A change with no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no invalidation rule for change {change:?} (known: {known})")]
pub struct UnknownChange {
    /// The change asked for.
    pub change: String,
    /// The changes that have rules, comma-separated.
    pub known: String,
}

/// Named changes and what each invalidates. Cheap to clone.
#[derive(Clone, Default)]
pub struct Rules {
    rules: BTreeMap<String, Vec<Rule>>,
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("changes", &self.rules.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Rules {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares that a `change` of the entity `id` invalidates `targets(id)`. Several rules for
    /// one change add up.
    pub fn on(
        mut self,
        change: impl Into<String>,
        targets: impl Fn(&str) -> Vec<Target> + Send + Sync + 'static,
    ) -> Self {
        self.rules
            .entry(change.into())
            .or_default()
            .push(Arc::new(targets));
        self
    }

    /// What a `change` of `id` invalidates, without duplicates, in declaration order.
    pub fn targets(&self, change: &str, id: &str) -> Result<Vec<Target>, UnknownChange> {
        let rules = self.rules.get(change).ok_or_else(|| UnknownChange {
            change: change.to_owned(),
            known: self.rules.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        let mut out: Vec<Target> = Vec::new();
        for t in rules.iter().flat_map(|r| r(id)) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The changes that have rules.
    pub fn changes(&self) -> impl Iterator<Item = &str> {
        self.rules.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_add_up_without_duplicates() {
        let rules = Rules::new()
            .on("profile", |id| {
                vec![Target::key("user", id), Target::key("whoami", id)]
            })
            .on("profile", |id| {
                vec![Target::key("whoami", id), Target::kind("api.alljobs")]
            });
        assert_eq!(
            rules.targets("profile", "7").unwrap(),
            [
                Target::key("user", "7"),
                Target::key("whoami", "7"),
                Target::kind("api.alljobs")
            ]
        );
        let err = rules.targets("job", "1").unwrap_err();
        assert!(
            err.to_string().contains("\"job\"") && err.to_string().contains("profile"),
            "{err}"
        );
    }
}
