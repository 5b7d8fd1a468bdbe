//! The operations of a backend, by name: what a layer wraps and a fault targets.

use std::fmt;

/// One operation of a [`Backend`](crate::Backend) or of one of its abilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// [`Backend::get`](crate::Backend::get).
    Get,
    /// [`Backend::get_many`](crate::Backend::get_many).
    GetMany,
    /// [`Backend::set`](crate::Backend::set).
    Set,
    /// [`Backend::set_many`](crate::Backend::set_many).
    SetMany,
    /// [`Backend::delete`](crate::Backend::delete).
    Delete,
    /// [`Backend::delete_many`](crate::Backend::delete_many).
    DeleteMany,
    /// [`Backend::clear`](crate::Backend::clear).
    Clear,
    /// [`Backend::ttl`](crate::Backend::ttl).
    Ttl,
    /// [`Backend::ping`](crate::Backend::ping).
    Ping,
    /// [`Backend::info`](crate::Backend::info).
    Info,
    /// [`Leases::acquire_lease`](crate::Leases::acquire_lease).
    AcquireLease,
    /// [`Leases::set_under_lease`](crate::Leases::set_under_lease).
    SetUnderLease,
    /// [`Leases::release_lease`](crate::Leases::release_lease).
    ReleaseLease,
    /// [`VersionCounters::versions`](crate::VersionCounters::versions).
    Versions,
    /// [`VersionCounters::bump_version`](crate::VersionCounters::bump_version).
    BumpVersion,
    /// [`Listing::scan`](crate::Listing::scan).
    Scan,
    /// [`Listing::delete_if_equals`](crate::Listing::delete_if_equals).
    DeleteIfEquals,
    /// [`MemoryUsage::memory_usage`](crate::MemoryUsage::memory_usage).
    MemoryUsage,
    /// [`Publisher::publish`](crate::Publisher::publish).
    Publish,
    /// A batch's [`Step::Register`](crate::batch::Step::Register): adding a member to a
    /// registry (the cache's schema registrations), an operation of its own so that a fault
    /// on [`Set`](Self::Set) does not reach it.
    Register,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 20] = [
        Self::Get,
        Self::GetMany,
        Self::Set,
        Self::SetMany,
        Self::Delete,
        Self::DeleteMany,
        Self::Clear,
        Self::Ttl,
        Self::Ping,
        Self::Info,
        Self::AcquireLease,
        Self::SetUnderLease,
        Self::ReleaseLease,
        Self::Versions,
        Self::BumpVersion,
        Self::Scan,
        Self::DeleteIfEquals,
        Self::MemoryUsage,
        Self::Publish,
        Self::Register,
    ];

    /// The method's name (`"get"`, `"set_under_lease"`, ...), for messages and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::GetMany => "get_many",
            Self::Set => "set",
            Self::SetMany => "set_many",
            Self::Delete => "delete",
            Self::DeleteMany => "delete_many",
            Self::Clear => "clear",
            Self::Ttl => "ttl",
            Self::Ping => "ping",
            Self::Info => "info",
            Self::AcquireLease => "acquire_lease",
            Self::SetUnderLease => "set_under_lease",
            Self::ReleaseLease => "release_lease",
            Self::Versions => "versions",
            Self::BumpVersion => "bump_version",
            Self::Scan => "scan",
            Self::DeleteIfEquals => "delete_if_equals",
            Self::MemoryUsage => "memory_usage",
            Self::Publish => "publish",
            Self::Register => "register",
        }
    }

    /// Whether the operation only reads.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Self::Get
                | Self::GetMany
                | Self::Ttl
                | Self::Ping
                | Self::Info
                | Self::Scan
                | Self::MemoryUsage
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
