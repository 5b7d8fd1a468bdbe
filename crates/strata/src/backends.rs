//! The backends of a cache: the default one (`[backend]`) and the named ones kinds are routed
//! to (`[backends.<name>]`), each behind its own layers (timeout, circuit breaker) and with its
//! own queue of deferred changes. A kind resolves its backend once (into its `KindState`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use strata_backend::{Backend, BreakerState};

use crate::coherence::CoherenceMode;
use crate::deferred::{Deferred, DeferredStats};
use crate::l2::L2;

/// The name the default backend (`[backend]`) goes by in statistics.
pub const DEFAULT_BACKEND: &str = "default";

/// One backend of a cache as [`Admin::backends`](crate::Admin::backends) reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BackendStatus {
    /// [`DEFAULT_BACKEND`] for `[backend]`, else the name of its `[backends.<name>]` table.
    pub name: String,
    /// What it is (`redis`, `memory`...).
    pub backend: &'static str,
    /// The kinds routed to it (for the default backend: none listed, it holds every other
    /// kind, and the tag counters).
    pub kinds: Vec<String>,
    /// Its circuit breaker (each backend has its own).
    pub breaker: BreakerState,
    /// Its changes made while it could not be reached.
    pub deferred_changes: DeferredStats,
    /// Its coherence mode: the channels opened on its server (`off` without any).
    pub coherence: CoherenceMode,
}

/// Where a routed kind's generation counter lives, and whether it may be trusted locally.
#[derive(Clone)]
pub(crate) struct CounterRoute {
    /// The tier of the kind's own backend.
    pub(crate) l2: L2,
    /// A coherence channel (tracking, bus) is open on that server: the counter's local value
    /// is kept in step by it. Without one (a backend given in code), every read asks the
    /// server, since the default backend's channels never hear of the counter's moves.
    pub(crate) channel: bool,
}

/// Which of a cache's backends: the default one, or a named one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct BackendId(usize);

impl BackendId {
    /// The default backend, `[backend]`: where tag counters live.
    pub(crate) const DEFAULT: Self = Self(0);
}

/// One backend as the cache uses it.
pub(crate) struct BackendPart {
    name: String,
    l2: L2,
    deferred: Deferred,
    coherence: CoherenceMode,
}

impl BackendPart {
    /// Its name (`default`, or the name of its `[backends.<name>]` table).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The backend behind its layers.
    pub(crate) fn l2(&self) -> &L2 {
        &self.l2
    }

    /// Its changes waiting for it to answer again.
    pub(crate) fn deferred(&self) -> &Deferred {
        &self.deferred
    }

    /// Its coherence mode: the channels opened on its server.
    pub(crate) fn coherence(&self) -> CoherenceMode {
        self.coherence
    }
}

/// A cache's backends (the default one first) and which kind lives where.
pub(crate) struct Backends {
    parts: Vec<BackendPart>,
    /// The kinds routed to a named backend (the others live in the default one).
    routes: HashMap<String, BackendId>,
}

impl Backends {
    /// `default` and the `named` backends, with `routes` (kind → backend name; every name is
    /// one of `named`'s, as the configuration's check made sure); `deferred` makes a backend's
    /// queue of deferred changes.
    pub(crate) fn new(
        default: L2,
        named: Vec<(String, L2)>,
        routes: impl IntoIterator<Item = (String, String)>,
        deferred: impl Fn(Arc<dyn Backend>) -> Deferred,
    ) -> Self {
        let parts: Vec<BackendPart> = std::iter::once((DEFAULT_BACKEND.to_owned(), default))
            .chain(named)
            .map(|(name, l2)| BackendPart {
                deferred: deferred(l2.backend()),
                coherence: CoherenceMode::Off,
                name,
                l2,
            })
            .collect();
        let routes = routes
            .into_iter()
            .filter_map(|(kind, name)| {
                let i = parts.iter().position(|p| p.name == name)?;
                Some((kind, BackendId(i)))
            })
            .collect();
        Self { parts, routes }
    }

    /// The same, each backend's coherence mode set from `modes` (in their order, the default
    /// one first).
    pub(crate) fn with_modes(mut self, modes: impl IntoIterator<Item = CoherenceMode>) -> Self {
        for (part, mode) in self.parts.iter_mut().zip(modes) {
            part.coherence = mode;
        }
        self
    }

    /// Each backend's coherence mode, by name.
    pub(crate) fn modes(&self) -> BTreeMap<String, CoherenceMode> {
        (self.parts.iter())
            .map(|p| (p.name.clone(), p.coherence))
            .collect()
    }

    /// The backend `kind` lives in.
    pub(crate) fn of_kind(&self, kind: &str) -> BackendId {
        if self.routes.is_empty() {
            return BackendId::DEFAULT;
        }
        self.routes.get(kind).copied().unwrap_or_default()
    }

    /// The backend `id`.
    pub(crate) fn get(&self, id: BackendId) -> &BackendPart {
        &self.parts[id.0]
    }

    /// Every backend with its id, the default one first.
    pub(crate) fn all(&self) -> impl Iterator<Item = (BackendId, &BackendPart)> {
        self.parts
            .iter()
            .enumerate()
            .map(|(i, p)| (BackendId(i), p))
    }

    /// The named backends (not the default one), with their ids.
    pub(crate) fn named(&self) -> impl Iterator<Item = (BackendId, &BackendPart)> {
        self.all().skip(1)
    }

    /// Every routed kind's backend as its version counter needs it, by kind: the L2 where its
    /// generation counter lives, and whether a channel on that server keeps the local value of
    /// the counter in step.
    pub(crate) fn routed(&self) -> HashMap<String, CounterRoute> {
        self.routes
            .iter()
            .map(|(kind, id)| {
                let part = self.get(*id);
                let route = CounterRoute {
                    l2: part.l2.clone(),
                    channel: part.coherence != CoherenceMode::Off,
                };
                (kind.clone(), route)
            })
            .collect()
    }

    /// The kinds routed to `id` (none listed for the default backend: every other kind).
    pub(crate) fn kinds_of(&self, id: BackendId) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .routes
            .iter()
            .filter(|(_, i)| **i == id)
            .map(|(k, _)| k.clone())
            .collect();
        kinds.sort_unstable();
        kinds
    }

    /// What each backend is, holds and went through, the default one first.
    pub(crate) fn status(&self) -> Vec<BackendStatus> {
        self.all()
            .map(|(id, p)| BackendStatus {
                name: p.name.clone(),
                backend: p.l2.name(),
                kinds: self.kinds_of(id),
                breaker: p.l2.breaker().state(),
                deferred_changes: p.deferred.stats(),
                coherence: p.coherence,
            })
            .collect()
    }

    /// The deferred changes of every backend, added up.
    pub(crate) fn deferred_stats(&self) -> DeferredStats {
        self.parts
            .iter()
            .map(|p| p.deferred.stats())
            .fold(DeferredStats::default(), DeferredStats::plus)
    }
}
