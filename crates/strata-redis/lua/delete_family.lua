-- Deletes one entity's entries under every member of a registry (the schema versions of a
-- kind, whichever instance wrote them) with their leases, registers the caller's members, and
-- publishes the keys it covered.
-- KEYS[1] the registry (a SET of members); when the kind has a quota, KEYS 2-5 its index (lru,
-- exp, size, totals; see quota_index.lua).
-- ARGV[1] an entry key before the member, ARGV[2] after it; ARGV[3] a lease key before the
-- member, ARGV[4] after it; ARGV[5] the bus channel ('' : publish nothing), ARGV[6] the
-- message before the JSON array of keys, ARGV[7] after it; ARGV[8..] the caller's members.
-- Returns {deleted, key, key, ...}: how many entries existed, then every key covered.
for i = 8, #ARGV do
  redis.call('SADD', KEYS[1], ARGV[i])
end
local keys, deleted = {}, 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. m .. ARGV[2]
  deleted = deleted + redis.call('UNLINK', key)
  redis.call('UNLINK', ARGV[3] .. m .. ARGV[4])
  if KEYS[2] then
    forget(KEYS[2], KEYS[3], KEYS[4], KEYS[5], key)
  end
  keys[#keys + 1] = key
end
if ARGV[5] ~= '' and #keys > 0 then
  redis.call('PUBLISH', ARGV[5], ARGV[6] .. cjson.encode(keys) .. ARGV[7])
end
local out = {deleted}
for _, k in ipairs(keys) do
  out[#out + 1] = k
end
return out
