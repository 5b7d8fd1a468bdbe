//! The Lua scripts that make multi-step operations atomic on the server.

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
