//! The integration tests of strata-redis: one binary, so one link; each module was a test
//! binary of its own.

mod coalesce;
mod quota;
mod read_line;
mod redis_cluster;
mod redis_conformance;
mod redis_faults;
mod redis_quota_conformance;
