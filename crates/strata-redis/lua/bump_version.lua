-- Moves a version counter on to max(current + 1, floor), a missing counter counting as 0.
-- KEYS[1] the counter.
-- ARGV[1] the floor, ARGV[2] the TTL in milliseconds (0: none; counters are created either
-- always or never with a TTL, so an increment never has one to remove).
-- Returns the new value as a string. Comparisons are exact below 2^53 (clock-based values in
-- microseconds stay far below); the increment itself is done by Redis on integers.
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if cur < tonumber(ARGV[1]) or cur ~= math.floor(cur) then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('INCR', KEYS[1])
end
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
