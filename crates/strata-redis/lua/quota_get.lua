-- Reads an entry under an LRU quota, recording the access; drops the index entry of a key
-- that expired (or that Redis evicted).
-- KEYS: 1 the entry, 2 lru, 3 exp, 4 size, 5 totals (see quota_index.lua).
-- Returns the value, or nil.
local v = redis.call('GET', KEYS[1])
if v then
  if redis.call('ZSCORE', KEYS[2], KEYS[1]) then
    redis.call('ZADD', KEYS[2], 'XX', redis.call('HINCRBY', KEYS[5], 'seq', 1), KEYS[1])
  end
  return v
end
forget(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[1])
return v
