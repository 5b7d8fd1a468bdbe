-- Stores an entry and drops its load lease: a write supersedes any load in flight.
-- KEYS[1] the entry, KEYS[2] its lease (same slot on a cluster).
-- ARGV[1] the value, ARGV[2] its TTL in milliseconds.
-- Returns 1.
-- The SET comes first: a script's first write is the one a full server refuses (after a write,
-- Redis lets the rest of a script run), so a full noeviction server answers OOM.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('UNLINK', KEYS[2])
return 1
