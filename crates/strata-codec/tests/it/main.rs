//! The integration tests of strata-codec: one binary, so one link; each module was a test
//! binary of its own.

mod garbage;
mod roundtrip;
