"""The Lua scripts of ``state.redis``: every conditional write is one atomic server-side step.

Item layout: a hash ``{data, version[, ct][, exp]}``. ``version`` is the ETag: an integer, the
server's clock in microseconds at the write, or the previous version + 1 if that is larger, so it
grows on every write and a key deleted and written again never gets an old ETag back. ``ct`` is
the content type (when given) and ``exp`` the expiry in Unix milliseconds (when the item has a TTL;
the key itself carries the same ``PEXPIRE``). A write replaces the whole hash, so a write without
TTL clears an earlier one.

Scripts return plain values rather than raising, so a mismatch costs no exception on the server.
"""

from __future__ import annotations

__all__ = ["BULK_DELETE", "BULK_GET", "BULK_SET", "DELETE", "SET", "TRANSACT"]

# write(k, old_version, data, ttl_ms, content_type, sec, usec) -> new version (string)
_WRITE = r"""
local function write(k, old, data, ttl, ct, sec, usec)
  local v = sec * 1000000 + usec
  local o = tonumber(old)
  if o and o >= v then v = o + 1 end
  local vs = string.format('%.0f', v)
  redis.call('DEL', k)
  if ttl > 0 then
    local exp = string.format('%.0f', sec * 1000 + math.floor(usec / 1000) + ttl)
    if ct ~= '' then
      redis.call('HSET', k, 'data', data, 'version', vs, 'ct', ct, 'exp', exp)
    else
      redis.call('HSET', k, 'data', data, 'version', vs, 'exp', exp)
    end
    redis.call('PEXPIRE', k, ttl)
  elseif ct ~= '' then
    redis.call('HSET', k, 'data', data, 'version', vs, 'ct', ct)
  else
    redis.call('HSET', k, 'data', data, 'version', vs)
  end
  return vs
end
-- true when the write/delete may go ahead: the ETag matches, or first-write finds no item
local function allowed(old, etag, first_write)
  if etag ~= '' then return old == etag end
  if first_write == '1' then return not old end
  return true
end
"""

SET = (
    _WRITE
    + r"""
-- KEYS[1]; ARGV: etag ('' = none), first_write ('1'/'0'), ttl_ms (0 = none), data, content_type
local k = KEYS[1]
local old = redis.call('HGET', k, 'version')
if not allowed(old, ARGV[1], ARGV[2]) then return false end
local t = redis.call('TIME')
return write(k, old, ARGV[4], tonumber(ARGV[3]), ARGV[5], tonumber(t[1]), tonumber(t[2]))
"""
)
"""Returns the new version, or nil when the ETag / first-write condition fails."""

DELETE = r"""
-- KEYS[1]; ARGV[1]: etag (non-empty)
local k = KEYS[1]
if redis.call('HGET', k, 'version') ~= ARGV[1] then return 0 end
redis.call('DEL', k)
return 1
"""
"""Returns 1 when deleted, 0 when the ETag does not match or the key is absent."""

BULK_SET = (
    _WRITE
    + r"""
-- KEYS[i]; ARGV[5i-4..5i]: etag, first_write, ttl_ms, data, content_type. Items are independent.
-- Result per item: new version, '' on an ETag / first-write conflict, or '!' .. error text.
local t = redis.call('TIME')
local sec, usec = tonumber(t[1]), tonumber(t[2])
local out = {}
for i, k in ipairs(KEYS) do
  local b = (i - 1) * 5
  local ok, res = pcall(function()
    local old = redis.call('HGET', k, 'version')
    if not allowed(old, ARGV[b + 1], ARGV[b + 2]) then return '' end
    return write(k, old, ARGV[b + 4], tonumber(ARGV[b + 3]), ARGV[b + 5], sec, usec)
  end)
  if ok then out[i] = res else out[i] = '!' .. tostring(type(res) == 'table' and res.err or res) end
end
return out
"""
)

BULK_GET = r"""
-- Result: 4 entries per key: data, version, ct, exp (nil when absent); on error data=nil and exp='!'.
local out = {}
for i, k in ipairs(KEYS) do
  local b = (i - 1) * 4
  local ok, r = pcall(redis.call, 'HMGET', k, 'data', 'version', 'ct', 'exp')
  if ok then
    out[b + 1], out[b + 2], out[b + 3], out[b + 4] = r[1], r[2], r[3], r[4]
  else
    out[b + 1], out[b + 2], out[b + 3], out[b + 4] = false, false, tostring(r.err or r), '!'
  end
end
-- a Lua table with holes ends at the first nil: write every slot (false -> nil reply)
return out
"""

BULK_DELETE = r"""
-- KEYS[i]; ARGV[i]: etag ('' = none). Result per key: 1 done, 0 ETag conflict, '!' .. error text.
local out = {}
for i, k in ipairs(KEYS) do
  local ok, res = pcall(function()
    if ARGV[i] ~= '' and redis.call('HGET', k, 'version') ~= ARGV[i] then return 0 end
    redis.call('DEL', k)
    return 1
  end)
  if ok then out[i] = res else out[i] = '!' .. tostring(type(res) == 'table' and res.err or res) end
end
return out
"""

TRANSACT = (
    _WRITE
    + r"""
-- KEYS[i]; ARGV[6i-5..6i]: op ('s' set / 'd' delete), etag, first_write, ttl_ms, data, content_type.
-- Every condition is checked against the state before the transaction; then all ops apply in
-- order. Returns 0, or the 1-based index of the first op whose condition failed (nothing applied).
for i, k in ipairs(KEYS) do
  local b = (i - 1) * 6
  local old = redis.call('HGET', k, 'version')
  if not allowed(old, ARGV[b + 2], ARGV[b + 3]) then return i end
end
local t = redis.call('TIME')
local sec, usec = tonumber(t[1]), tonumber(t[2])
for i, k in ipairs(KEYS) do
  local b = (i - 1) * 6
  if ARGV[b + 1] == 'd' then
    redis.call('DEL', k)
  else
    write(k, redis.call('HGET', k, 'version'), ARGV[b + 5], tonumber(ARGV[b + 4]), ARGV[b + 6], sec, usec)
  end
end
return 0
"""
)
