//! What a backend can do beyond reading and writing entries, as one value callers ask.

/// A backend's capabilities: which abilities it has (each reachable through its `as_*`
/// method of [`Backend`](crate::Backend)) and whether it bounds its own operations in time.
///
/// The default is a backend with none of them. A backend says what it has by overriding
/// [`Backend::capabilities`](crate::Backend::capabilities); a layer answers those of the backend
/// it wraps, adjusted by what the layer adds ([`Wrap::capabilities`](crate::Wrap::capabilities)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Load leases ([`Leases`](crate::Leases)): stale-set protection, cross-process single
    /// flight.
    pub leases: bool,
    /// Version counters ([`VersionCounters`](crate::VersionCounters)): O(1) invalidation of
    /// kinds and tags.
    pub version_counters: bool,
    /// Walking keys by prefix and compare-and-delete ([`Listing`](crate::Listing)).
    pub listing: bool,
    /// What the server spends on a key ([`MemoryUsage`](crate::MemoryUsage)).
    pub memory_usage: bool,
    /// Publishing on the server's pub/sub channels ([`Publisher`](crate::Publisher)), so a
    /// batch can carry its bus messages.
    pub publish: bool,
    /// Every operation ends within the backend's own timeout (or does no I/O): callers need
    /// no timer of their own.
    pub bounded: bool,
}

impl Capabilities {
    /// The abilities `backend` exposes through its `as_*` methods, unbounded.
    pub fn of<B: crate::Backend + ?Sized>(backend: &B) -> Self {
        Self {
            leases: backend.as_leases().is_some(),
            version_counters: backend.as_version_counters().is_some(),
            listing: backend.as_listing().is_some(),
            memory_usage: backend.as_memory_usage().is_some(),
            publish: backend.as_publisher().is_some(),
            bounded: false,
        }
    }

    /// No capability.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every ability (leases, counters, listing, memory usage, publishing), unbounded.
    pub fn all_abilities() -> Self {
        Self {
            leases: true,
            version_counters: true,
            listing: true,
            memory_usage: true,
            publish: true,
            bounded: false,
        }
    }

    /// These capabilities with `bounded` set as given.
    pub fn with_bounded(mut self, bounded: bool) -> Self {
        self.bounded = bounded;
        self
    }

    /// These capabilities with `publish` set as given.
    pub fn with_publish(mut self, publish: bool) -> Self {
        self.publish = publish;
        self
    }

    /// These capabilities with `leases` set as given.
    pub fn with_leases(mut self, leases: bool) -> Self {
        self.leases = leases;
        self
    }

    /// These capabilities with `version_counters` set as given.
    pub fn with_version_counters(mut self, counters: bool) -> Self {
        self.version_counters = counters;
        self
    }

    /// These capabilities with `listing` set as given.
    pub fn with_listing(mut self, listing: bool) -> Self {
        self.listing = listing;
        self
    }

    /// These capabilities with `memory_usage` set as given.
    pub fn with_memory_usage(mut self, memory_usage: bool) -> Self {
        self.memory_usage = memory_usage;
        self
    }
}
