//! How the entries of a key are read and written: plainly, or under their kind's quota. Every
//! operation of the backend builds its calls here, so a batch mixes both freely.

use std::borrow::Cow;
use std::time::Duration;

use redis::Value;
use strata_backend::BackendResult;

use crate::scripts::{Call, Scripts};

/// Where an entry lives: its physical name and (for writes) the name of its load lease.
pub(crate) struct Place<'a> {
    /// The entry's physical name.
    pub(crate) entry: Cow<'a, str>,
    /// Its lease's physical name.
    pub(crate) lease: String,
}

/// The calls that read and write one entry.
pub(crate) trait Entries: Send + Sync {
    /// Reads the entry (a call answering its bytes, or nil).
    fn get<'a>(&'a self, scripts: &'a Scripts, entry: Cow<'a, str>) -> Call<'a>;

    /// Whether [`get`](Self::get) is a plain `GET` of the entry's physical name (which reads
    /// may share as one `MGET`).
    fn reads_plainly(&self) -> bool {
        true
    }

    /// Writes the entry and drops its lease; with `token`, only while that lease is held.
    fn set<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        value: &'a [u8],
        ttl: Duration,
        token: Option<&'a str>,
    ) -> Call<'a>;

    /// Deletes the entry and its lease; with `expected`, only while it holds those bytes (and
    /// the lease is left alone). Answers 1 if deleted.
    fn delete<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        expected: Option<&'a [u8]>,
    ) -> Call<'a>;

    /// What a `set` call's reply means: stored, or not (the lease was not held).
    fn stored(&self, key: &str, value_len: usize, reply: Value) -> BackendResult<bool>;

    /// Reads the entry and, atomically with the read, takes its lease for `ttl` under `token`
    /// when it is absent (or `always`): a `{value, code}` reply (see `lua/read_and_lease.lua`).
    fn read_and_lease<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        lease: (&'a str, Duration, bool),
    ) -> Call<'a>;

    /// The quota index keys that a delete of one of these entries must clean (none without a
    /// quota).
    fn index_keys(&self) -> Vec<String>;
}

/// The read-and-lease call with `keys` (entry, lease, then any index keys).
pub(crate) fn read_and_lease_call<'a>(
    scripts: &'a Scripts,
    keys: Vec<String>,
    (token, ttl, always): (&'a str, Duration, bool),
) -> Call<'a> {
    let when: &[u8] = if always { b"always" } else { b"absent" };
    scripts
        .read_and_lease
        .call(keys)
        .arg(token.as_bytes())
        .num(ms(ttl))
        .arg(when)
}

/// Entries of kinds without a quota: a `GET`, and scripts that keep the lease in step.
pub(crate) struct Plain;

impl Entries for Plain {
    fn get<'a>(&'a self, _scripts: &'a Scripts, entry: Cow<'a, str>) -> Call<'a> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(entry.as_ref());
        Call::cmd(entry, cmd)
    }

    fn set<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        value: &'a [u8],
        ttl: Duration,
        token: Option<&'a str>,
    ) -> Call<'a> {
        let keys = vec![at.entry.into_owned(), at.lease];
        match token {
            Some(token) => scripts
                .set_under_lease
                .call(keys)
                .arg(token.as_bytes())
                .arg(value)
                .num(ms(ttl)),
            None => scripts.set.call(keys).arg(value).num(ms(ttl)),
        }
    }

    fn delete<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        expected: Option<&'a [u8]>,
    ) -> Call<'a> {
        match expected {
            Some(bytes) => scripts
                .delete_if_equals
                .call(vec![at.entry.into_owned()])
                .arg(bytes),
            None => scripts.delete.call(vec![at.entry.into_owned(), at.lease]),
        }
    }

    fn stored(&self, _key: &str, _value_len: usize, reply: Value) -> BackendResult<bool> {
        Ok(crate::errors::int(&reply)? > 0)
    }

    fn read_and_lease<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        lease: (&'a str, Duration, bool),
    ) -> Call<'a> {
        read_and_lease_call(scripts, vec![at.entry.into_owned(), at.lease], lease)
    }

    fn index_keys(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Milliseconds, rounded up: an entry never lives less than asked.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}
