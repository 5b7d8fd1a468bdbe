//! The integration tests of strata-http: one binary, so one link; each module was a test
//! binary of its own.

mod axum_glue;
mod common;
mod dashboard_browser;
mod fuzz_clear;
mod fuzz_response;
mod hot_keys;
mod isolation;
mod monitoring;
mod prometheus;
mod response_cache;
mod serve;
mod warm;
