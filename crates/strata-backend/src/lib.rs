//! The Strata Backend trait, its error kinds, and the bounded in-memory backend
