-- Reads an entry and, in the same atomic step, takes its load lease: when the entry is absent
-- (a miss that will load), or in any case. Under an LRU quota the read records its access.
-- KEYS[1] the entry, KEYS[2] its lease; under an LRU quota KEYS 3-6 its index (lru, exp, size,
-- totals; see quota_index.lua).
-- ARGV[1] the lease token ('' : no lease), ARGV[2] the lease TTL in ms, ARGV[3] 'absent' or
-- 'always'.
-- Returns {value or false, code}: code 0 no lease taken, 1 taken, 2 held by someone else.
local v = redis.call('GET', KEYS[1])
if KEYS[3] then
  if v then
    if redis.call('ZSCORE', KEYS[3], KEYS[1]) then
      redis.call('ZADD', KEYS[3], 'XX', redis.call('HINCRBY', KEYS[6], 'seq', 1), KEYS[1])
    end
  else
    forget(KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[1])
  end
end
local code = 0
if ARGV[1] ~= '' and ((not v) or ARGV[3] == 'always') then
  if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
    code = 1
  else
    code = 2
  end
end
return {v or false, code}
