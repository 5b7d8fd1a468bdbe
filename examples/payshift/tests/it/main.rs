//! The integration tests of payshift: one binary, so one link; each module was a test
//! binary of its own.

mod coherence;
mod common;
mod e2e;
mod round_trips;
