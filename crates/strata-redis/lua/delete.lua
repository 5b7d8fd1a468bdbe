-- Deletes an entry and its load lease (a load in flight must not store over the delete).
-- KEYS[1] the entry, KEYS[2] its lease.
-- Returns 1 if the entry existed, else 0.
redis.call('UNLINK', KEYS[2])
return redis.call('UNLINK', KEYS[1])
