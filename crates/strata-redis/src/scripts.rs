//! The Lua scripts (`lua/*.lua`, loaded with `include_str!`) that make multi-step operations
//! atomic on the server, and the calls that run them.

use std::borrow::Cow;

use redis::{Cmd, Script};

/// One script: its source (sent with `EVAL` when the server lacks it) and its SHA1 (`EVALSHA`).
pub(crate) struct Lua {
    source: &'static str,
    hash: Script,
}

impl Lua {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            hash: Script::new(source),
        }
    }

    /// A call of this script on `keys` (the first decides the slot) with `args`.
    pub(crate) fn call<'a>(&'a self, keys: Vec<String>) -> Call<'a> {
        Call::Script {
            lua: self,
            keys,
            args: Vec::new(),
        }
    }
}

/// Every script of the backend.
pub(crate) struct Scripts {
    pub(crate) set: Lua,
    pub(crate) set_under_lease: Lua,
    pub(crate) delete: Lua,
    pub(crate) delete_if_equals: Lua,
    pub(crate) versions: Lua,
    pub(crate) bump_version: Lua,
    pub(crate) quota_set: Lua,
    pub(crate) quota_get: Lua,
    pub(crate) quota_del: Lua,
    pub(crate) read_and_lease: Lua,
    pub(crate) delete_family: Lua,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            set: Lua::new(include_str!("../lua/set.lua")),
            set_under_lease: Lua::new(include_str!("../lua/set_under_lease.lua")),
            delete: Lua::new(include_str!("../lua/delete.lua")),
            delete_if_equals: Lua::new(include_str!("../lua/delete_if_equals.lua")),
            versions: Lua::new(include_str!("../lua/versions.lua")),
            bump_version: Lua::new(include_str!("../lua/bump_version.lua")),
            quota_set: Lua::new(concat!(
                include_str!("../lua/quota_index.lua"),
                include_str!("../lua/quota_set.lua")
            )),
            quota_get: Lua::new(concat!(
                include_str!("../lua/quota_index.lua"),
                include_str!("../lua/quota_get.lua")
            )),
            quota_del: Lua::new(concat!(
                include_str!("../lua/quota_index.lua"),
                include_str!("../lua/quota_del.lua")
            )),
            read_and_lease: Lua::new(concat!(
                include_str!("../lua/quota_index.lua"),
                include_str!("../lua/read_and_lease.lua")
            )),
            delete_family: Lua::new(concat!(
                include_str!("../lua/quota_index.lua"),
                include_str!("../lua/delete_family.lua")
            )),
        }
    }
}

impl Scripts {
    /// Every script's source.
    pub(crate) fn sources(&self) -> [&'static str; 11] {
        [
            self.set.source,
            self.set_under_lease.source,
            self.delete.source,
            self.delete_if_equals.source,
            self.versions.source,
            self.bump_version.source,
            self.quota_set.source,
            self.quota_get.source,
            self.quota_del.source,
            self.read_and_lease.source,
            self.delete_family.source,
        ]
    }
}

/// One command for the server: a plain command, or a script call (sent as `EVALSHA`; when the
/// server answers `NOSCRIPT` — after a restart or a cluster failover a node may lack it — the
/// script is loaded and the call sent again).
pub(crate) enum Call<'a> {
    /// A plain command routed by `key` (its first key).
    Cmd {
        /// The key whose slot the command goes to.
        key: Cow<'a, str>,
        /// The command.
        cmd: Cmd,
    },
    /// A script call.
    Script {
        /// The script.
        lua: &'a Lua,
        /// Its KEYS (the first decides the slot).
        keys: Vec<String>,
        /// Its ARGV.
        args: Vec<Cow<'a, [u8]>>,
    },
}

impl<'a> Call<'a> {
    /// A plain command routed by `key`.
    pub(crate) fn cmd(key: impl Into<Cow<'a, str>>, cmd: Cmd) -> Self {
        Self::Cmd {
            key: key.into(),
            cmd,
        }
    }

    /// Adds an argument to a script call (nothing for a plain command: build it whole).
    pub(crate) fn arg(mut self, arg: impl Into<Cow<'a, [u8]>>) -> Self {
        if let Self::Script { args, .. } = &mut self {
            args.push(arg.into());
        }
        self
    }

    /// Adds a number argument to a script call.
    pub(crate) fn num(self, n: impl std::fmt::Display) -> Self {
        self.arg(n.to_string().into_bytes())
    }

    /// The key whose slot the call goes to.
    pub(crate) fn route(&self) -> &str {
        match self {
            Self::Cmd { key, .. } => key,
            Self::Script { keys, .. } => keys.first().map_or("", String::as_str),
        }
    }

    /// The command to send (`EVALSHA` for a script).
    pub(crate) fn to_cmd(&self) -> Cow<'_, Cmd> {
        match self {
            Self::Cmd { cmd, .. } => Cow::Borrowed(cmd),
            Self::Script { lua, keys, args } => {
                let mut cmd = redis::cmd("EVALSHA");
                cmd.arg(lua.hash.get_hash()).arg(keys.len()).arg(keys);
                for a in args {
                    cmd.arg(a.as_ref());
                }
                Cow::Owned(cmd)
            }
        }
    }

    /// Whether this is a script call (which a `NOSCRIPT` answer sends again).
    pub(crate) fn is_script(&self) -> bool {
        matches!(self, Self::Script { .. })
    }

    /// The script's source, for a script call.
    pub(crate) fn source(&self) -> Option<&'static str> {
        match self {
            Self::Script { lua, .. } => Some(lua.source),
            Self::Cmd { .. } => None,
        }
    }
}

/// What the quota write script answers besides a number of victims.
pub(crate) mod quota_set_code {
    /// The caller's lease was not held: nothing written.
    pub(crate) const LEASE_LOST: i64 = -1;
    /// The entry alone is larger than the byte quota: nothing written.
    pub(crate) const TOO_LARGE: i64 = -2;
}
