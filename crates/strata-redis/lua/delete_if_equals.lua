-- Deletes a key only while it still holds the given bytes (an undecodable entry, a lease
-- given back), so a writer that replaced it meanwhile wins.
-- KEYS[1] the key. ARGV[1] the bytes it must hold.
-- Returns 1 if deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
