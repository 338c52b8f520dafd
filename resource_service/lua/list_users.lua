-- One page of the user directory, in registration order.
-- KEYS[1] the users index (sorted set, all scores 0, members <created ms>:<user id>)
-- ARGV[1] where to start, in ZRANGE BYLEX terms: '-' or '(<member of the previous page's end>'
-- ARGV[2] how many members to read (the page size + 1, to learn whether more follow)
-- ARGV[3] the prefix of profile keys (profile key = prefix .. user id)
-- Profile keys are derived from ARGV[3]: they carry KEYS[1]'s hash tag, so they live in
-- its cluster slot, and the page costs one round trip instead of one per user.
-- Returns a flat list: member, id, email, name, created_at for each member read, in order;
-- id is '' where the profile is missing.
local out = {}
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(members) do
  local user_id = string.match(member, ':(.*)$')
  local p = redis.call('HMGET', ARGV[3] .. user_id, 'id', 'email', 'name', 'created_at')
  table.insert(out, member)
  for i = 1, 4 do table.insert(out, p[i] or '') end
end
return out
