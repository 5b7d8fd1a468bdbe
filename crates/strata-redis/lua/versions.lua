-- Reads version counters, creating missing (or non-numeric) ones.
-- KEYS the counters.
-- ARGV[1] the value of a new counter, ARGV[2] its TTL in milliseconds (0: none).
-- Returns the values as strings (Lua numbers would lose digits), in order.
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if (not v) or (not tonumber(v)) then
    v = ARGV[1]
    if tonumber(ARGV[2]) > 0 then
      redis.call('SET', k, v, 'PX', ARGV[2])
    else
      redis.call('SET', k, v)
    end
  end
  out[i] = v
end
return out
