-- Deletes an entry under a quota with its index entry, and its lease.
-- KEYS: 1 the entry, 2 its lease, 3 lru, 4 exp, 5 size, 6 totals (see quota_index.lua).
-- ARGV[1] '1': only while the entry holds ARGV[2] (the lease is left alone); '0': always.
-- Returns 1 if the entry was deleted, else 0.
if ARGV[1] == '1' and redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
local n = redis.call('UNLINK', KEYS[1])
if ARGV[1] ~= '1' then
  redis.call('UNLINK', KEYS[2])
end
forget(KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[1])
return n
