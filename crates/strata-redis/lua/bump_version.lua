-- Moves a version counter on to max(current + 1, floor), a missing counter counting as 0.
-- KEYS[1] the counter.
-- ARGV[1] the floor, ARGV[2] the TTL in milliseconds (0: none; counters are created either
-- always or never with a TTL, so an increment never has one to remove); ARGV[3] a bus channel
-- ('' or absent: publish nothing), ARGV[4] and ARGV[5] the message before and after the new
-- value.
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
local value = redis.call('GET', KEYS[1])
if ARGV[3] and ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], ARGV[4] .. value .. ARGV[5])
end
return value
