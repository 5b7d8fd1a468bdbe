//! The integration tests of strata-cache: one binary, so one link; each module was a test
//! binary of its own.
//! (`tests/compile_errors.rs`, the trybuild harness, stays one.)

mod acl;
mod analytics;
mod bus;
mod clear;
mod cluster;
mod cluster_budget;
mod coalesced_reads;
mod common;
mod config;
mod config_doc;
mod config_env;
mod counted_changes;
mod faults_under_load;
mod get_or_load;
mod history;
mod hot_keys;
mod hot_set;
mod macros;
mod memory_budget;
mod metrics;
mod multiprocess;
mod outage;
mod partitions;
mod quotas;
mod redis_tiers;
mod refresh;
mod relations;
mod round_trips;
mod routed;
mod routed_modes;
mod schemas;
mod secrets;
mod stale_set;
mod tags;
mod tiers;
mod traces;
mod tracking;
