-- Writes an entry under its kind's quota, evicting by policy first.
-- KEYS: 1 the entry, 2 its lease, 3 lru, 4 exp, 5 size, 6 totals (see quota_index.lua).
-- ARGV: 1 the value, 2 its TTL in ms, 3 max entries (0: none), 4 max bytes (0: none),
-- 5 policy (lru | ttl | random), 6 lease token ('': a plain write).
-- Mirrors strata_eviction::Evictor: up to 32 expired entries are purged first, the key's
-- previous entry is removed, victims are evicted until the new entry fits, a write counts as an
-- access.
-- Returns the number of victims (>= 0), -1 when the lease is not held, -2 when the entry
-- alone is larger than the byte quota (nothing written).
local key, lease, lru, exp, size, totals = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local ttl = tonumber(ARGV[2])
local max_entries, max_bytes, policy, token = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
if token ~= '' and redis.call('GET', lease) ~= token then
  return -1
end
local entry = string.len(key) + string.len(ARGV[1])
if max_bytes > 0 and entry > max_bytes then
  return -2
end
-- The SET comes first: a script's first write is the one a full server refuses (after a write,
-- Redis lets the rest of a script run). The index below does not count the new entry yet.
redis.call('SET', key, ARGV[1], 'PX', ttl)
local now = now_ms()
for _, k in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 32)) do
  redis.call('UNLINK', k)
  forget(lru, exp, size, totals, k)
end
forget(lru, exp, size, totals, key)
local evicted = 0
while true do
  local n = redis.call('HLEN', size)
  local bytes = tonumber(redis.call('HGET', totals, 'bytes') or '0')
  local over = (max_entries > 0 and n + 1 > max_entries) or (max_bytes > 0 and bytes + entry > max_bytes)
  if not over or n == 0 then break end
  local victim
  if policy == 'lru' then
    victim = redis.call('ZRANGE', lru, 0, 0)[1]
  elseif policy == 'ttl' then
    victim = redis.call('ZRANGE', exp, 0, 0)[1]
  else
    victim = redis.call('ZRANDMEMBER', exp)
  end
  if not victim then break end
  redis.call('UNLINK', victim)
  forget(lru, exp, size, totals, victim)
  evicted = evicted + 1
end
redis.call('UNLINK', lease)
local seq = redis.call('HINCRBY', totals, 'seq', 1)
if policy == 'lru' then
  redis.call('ZADD', lru, seq, key)
end
redis.call('ZADD', exp, now + ttl, key)
redis.call('HSET', size, key, entry)
redis.call('HINCRBY', totals, 'bytes', entry)
return evicted
