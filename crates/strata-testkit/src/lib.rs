//! Test doubles for Strata: the backend conformance suite, a fault-injecting backend, redis-server spawners
