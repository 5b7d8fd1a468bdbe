//! The Lua scripts that make multi-step operations atomic on the server.

use redis::{FromRedisValue, RedisResult, Script, ScriptInvocation, ServerErrorKind};

/// Runs a script (`EVALSHA`, loading it on a miss). A node can still lack it right after a
/// cluster failover (the promoted replica never saw `SCRIPT LOAD`, and the load can reach the
/// old topology): such a miss is retried twice before it is an error.
pub(crate) async fn invoke<T: FromRedisValue>(
    invocation: &ScriptInvocation<'_>,
    conn: &mut crate::conn::RedisConnection,
) -> RedisResult<T> {
    let mut attempt = 0;
    loop {
        match invocation.invoke_async(conn).await {
            Err(e)
                if attempt < 2
                    && e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Every script, loaded once per backend (redis-rs sends `EVALSHA`, then `EVAL` on a miss).
pub(crate) struct Scripts {
    pub(crate) delete_if_equals: Script,
    pub(crate) set_under_lease: Script,
    pub(crate) set_dropping_lease: Script,
    pub(crate) versions: Script,
    pub(crate) bump_version: Script,
    pub(crate) quota_set: Script,
    pub(crate) quota_get: Script,
    pub(crate) quota_del: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            delete_if_equals: Script::new(DELETE_IF_EQUALS),
            set_under_lease: Script::new(SET_UNDER_LEASE),
            set_dropping_lease: Script::new(SET_DROPPING_LEASE),
            versions: Script::new(VERSIONS),
            bump_version: Script::new(BUMP_VERSION),
            quota_set: Script::new(QUOTA_SET),
            quota_get: Script::new(QUOTA_GET),
            quota_del: Script::new(QUOTA_DEL),
        }
    }
}

/// Deletes KEYS[1] only while it still holds ARGV[1].
pub(crate) const DELETE_IF_EQUALS: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Stores ARGV[2] under KEYS[1] for ARGV[3] ms only while KEYS[2] (the lease) holds ARGV[1].
pub(crate) const SET_UNDER_LEASE: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
";

/// Stores ARGV[1] under KEYS[1] for ARGV[2] ms and drops KEYS[2] (its lease). One server uses
/// a `MULTI` transaction for this; a cluster uses the script, since redis-rs follows a `MOVED`
/// reply to a script but not one inside an aborted transaction.
pub(crate) const SET_DROPPING_LEASE: &str = r"
redis.call('UNLINK', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// The version counters under KEYS, creating missing (or non-numeric) ones with ARGV[1] and a
/// TTL of ARGV[2] ms (0: none). Returns them as strings (Lua numbers would lose digits).
pub(crate) const VERSIONS: &str = r"
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
";

/// Moves the version counter KEYS[1] on to max(current + 1, ARGV[1]) with a TTL of ARGV[2] ms
/// (0: none; counters are created either always or never with a TTL, so an increment never has
/// one to remove) and returns it as a string. Comparisons are exact below 2^53 (clock-based values
/// in microseconds stay far below); the increment is done by Redis on integers.
pub(crate) const BUMP_VERSION: &str = r"
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
";

/// Writes KEYS[1] under a per-kind quota, evicting by policy first. KEYS: 1 key, 2 lease,
/// 3 recency index (ZSET, access sequence), 4 expiry index (ZSET, expiry ms), 5 sizes (HASH),
/// 6 totals (HASH: bytes, seq). ARGV: 1 value, 2 ttl ms, 3 now ms, 4 max entries (0: none),
/// 5 max bytes (0: none), 6 policy (lru | ttl | random), 7 lease token ('' : a plain write).
///
/// Mirrors `strata_eviction::Evictor`: up to 32 expired entries are purged first, the key's
/// previous entry is removed, victims are evicted until the new entry fits, a write counts as
/// an access. Returns the number of victims, or -1 when the lease is not held.
pub(crate) const QUOTA_SET: &str = r"
local key, lease, lru, exp, size, totals = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local ttl, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local max_entries, max_bytes, policy, token = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
if token ~= '' and redis.call('GET', lease) ~= token then
  return -1
end
local entry = string.len(key) + string.len(ARGV[1])
if max_bytes > 0 and entry > max_bytes then
  return redis.error_reply('ERR entry ' .. key .. ' of ' .. entry .. ' bytes is larger than its quota of ' .. max_bytes .. ' bytes')
end
local function forget(k)
  local s = redis.call('HGET', size, k)
  if s then
    redis.call('HDEL', size, k)
    redis.call('ZREM', lru, k)
    redis.call('ZREM', exp, k)
    redis.call('HINCRBY', totals, 'bytes', -tonumber(s))
  end
end
for _, k in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 32)) do
  redis.call('UNLINK', k)
  forget(k)
end
forget(key)
local evicted = 0
while true do
  local n = redis.call('HLEN', size)
  local bytes = tonumber(redis.call('HGET', totals, 'bytes') or '0')
  local over = (max_entries > 0 and n + 1 > max_entries) or (max_bytes > 0 and bytes + entry > max_bytes)
  if not over or n == 0 then break end
  local victim
  if policy == 'lru' then
    victim = redis.call('ZRANGE', lru, 0, 0)[1]
  elseif policy == 'ttl' then
    victim = redis.call('ZRANGE', exp, 0, 0)[1]
  else
    victim = redis.call('ZRANDMEMBER', exp)
  end
  if not victim then break end
  redis.call('UNLINK', victim)
  forget(victim)
  evicted = evicted + 1
end
redis.call('SET', key, ARGV[1], 'PX', ttl)
redis.call('UNLINK', lease)
local seq = redis.call('HINCRBY', totals, 'seq', 1)
if policy == 'lru' then
  redis.call('ZADD', lru, seq, key)
end
redis.call('ZADD', exp, now + ttl, key)
redis.call('HSET', size, key, entry)
redis.call('HINCRBY', totals, 'bytes', entry)
return evicted
";

/// Reads KEYS[1] under an LRU quota, recording the access; drops the index entries of a key
/// that expired (or that Redis evicted). KEYS as in `QUOTA_SET` without the lease: 1 key,
/// 2 recency, 3 expiry, 4 sizes, 5 totals.
pub(crate) const QUOTA_GET: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  if redis.call('ZSCORE', KEYS[2], KEYS[1]) then
    redis.call('ZADD', KEYS[2], 'XX', redis.call('HINCRBY', KEYS[5], 'seq', 1), KEYS[1])
  end
  return v
end
local s = redis.call('HGET', KEYS[4], KEYS[1])
if s then
  redis.call('HDEL', KEYS[4], KEYS[1])
  redis.call('ZREM', KEYS[2], KEYS[1])
  redis.call('ZREM', KEYS[3], KEYS[1])
  redis.call('HINCRBY', KEYS[5], 'bytes', -tonumber(s))
end
return v
";

/// Deletes KEYS[1] (and its lease, KEYS[2]) under a quota, with its index entries; with
/// ARGV[1] = '1' only while it holds ARGV[2]. KEYS 3-6 as in `QUOTA_SET`. Returns 1 if deleted.
pub(crate) const QUOTA_DEL: &str = r"
if ARGV[1] == '1' and redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
local n = redis.call('UNLINK', KEYS[1])
if ARGV[1] ~= '1' then
  redis.call('UNLINK', KEYS[2])
end
local s = redis.call('HGET', KEYS[5], KEYS[1])
if s then
  redis.call('HDEL', KEYS[5], KEYS[1])
  redis.call('ZREM', KEYS[3], KEYS[1])
  redis.call('ZREM', KEYS[4], KEYS[1])
  redis.call('HINCRBY', KEYS[6], 'bytes', -tonumber(s))
end
return n
";
