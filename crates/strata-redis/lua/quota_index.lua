-- Shared by the quota scripts (prepended to each): the per-kind index kept beside the entries.
-- An index is four keys: `lru` (ZSET, access sequence), `exp` (ZSET, expiry in ms), `size`
-- (HASH, key -> bytes of key + value), `totals` (HASH: bytes, seq).

-- Removes `k` from the index (if it is there), giving its bytes back.
local function forget(lru, exp, size, totals, k)
  local s = redis.call('HGET', size, k)
  if s then
    redis.call('HDEL', size, k)
    redis.call('ZREM', lru, k)
    redis.call('ZREM', exp, k)
    redis.call('HINCRBY', totals, 'bytes', -tonumber(s))
  end
end

-- The server's time in milliseconds (one clock for every instance).
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
