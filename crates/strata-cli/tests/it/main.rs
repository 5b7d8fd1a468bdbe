//! The integration tests of strata-cli: one binary, so one link; each module was a test
//! binary of its own.

mod cli;
mod routed;
