//! RedisBackend: the Strata Backend on redis-rs with automatic reconnect, timeouts and prefix-scoped clears
