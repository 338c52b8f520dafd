#!lua flags=no-writes
-- One page of the user directory, in registration order. It only reads (flags=no-writes), so
-- it may run on a replica (EVALSHA_RO).
-- KEYS[1] the users index (sorted set, all scores 0, members <created ms>:<user id>)
-- KEYS[2] the public profiles (hash: user id -> JSON)
-- ARGV[1] where to start, in ZRANGE BYLEX terms: '-' or '(<member of the previous page's end>'
-- ARGV[2] how many members to read (the page size + 1, to learn whether more follow)
-- Returns a flat list: member, profile JSON (false where the profile is missing) for each
-- member read, in order.
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
if #members == 0 then
  return {}
end
local ids = {}
for i, member in ipairs(members) do
  ids[i] = string.match(member, ':(.*)$')
end
local profiles = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i, member in ipairs(members) do
  out[2 * i - 1] = member
  out[2 * i] = profiles[i]
end
return out
