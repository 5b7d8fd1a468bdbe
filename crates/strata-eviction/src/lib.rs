//! Pure, synchronous eviction policies (LRU, Random, TTL) under entry and byte limits
