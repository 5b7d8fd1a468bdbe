-- Stores an entry only while the caller still holds its load lease (nothing invalidated the
-- key since the lease was taken), and releases the lease.
-- KEYS[1] the entry, KEYS[2] its lease.
-- ARGV[1] the lease token, ARGV[2] the value, ARGV[3] its TTL in milliseconds.
-- Returns 1 when stored, 0 when the lease was gone or someone else's.
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
