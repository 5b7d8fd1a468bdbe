//! The integration tests of strata-testkit: one binary, so one link; each module was a test
//! binary of its own.

mod fuzz;
mod memory_conformance;
mod proxy;
mod python_interop;
