//! The typed handles of the demo's kinds, made once at start-up: a request reaches its kind's
//! entries through a field, where `Cache::of` would look the kind up again every time.

use strata::{Cache, KindCache, LoadOptions};

use crate::models::{Applications, Job, Profile, User, Whoami};

/// One handle per id-keyed kind the endpoints read.
pub(crate) struct Kinds {
    pub(crate) users: KindCache<User>,
    pub(crate) profiles: KindCache<Profile>,
    pub(crate) whoami: KindCache<Whoami>,
    pub(crate) jobs: KindCache<Job>,
    pub(crate) applications: KindCache<Applications>,
}

impl Kinds {
    /// The handles of `cache`'s kinds.
    pub(crate) fn of(cache: &Cache) -> Result<Self, strata::Error> {
        Ok(Self {
            users: cache.of()?,
            profiles: cache.of()?,
            whoami: cache.of()?,
            jobs: cache.of()?,
            applications: cache.of()?,
        })
    }
}

/// The load options of an entry about user `id`: tagged `user:{id}`, so a profile change
/// reaches all of them.
pub(crate) fn about_user(id: i64) -> LoadOptions {
    LoadOptions::new().tags([format!("user:{id}")])
}
