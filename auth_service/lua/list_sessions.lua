-- List a user's live sessions, dropping those that ended from the index.
-- KEYS[1] the user's session index (sorted set of session ids)
-- ARGV[1] the prefix of the user's session keys (session key = prefix .. id)
-- ARGV[2] now (ms)
-- Session keys are derived from ARGV[1] and share KEYS[1]'s hash tag (see revoke_sessions.lua).
-- Returns a flat list: id, created_at, last_used_at, user_agent, for each live session,
-- oldest first.
local now = tonumber(ARGV[2])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local s = redis.call('HMGET', ARGV[1] .. id, 'created_at', 'last_used_at', 'user_agent',
    'idle_deadline', 'abs_deadline', 'current')
  if s[6] and now < tonumber(s[4]) and now < tonumber(s[5]) then
    table.insert(out, id)
    table.insert(out, s[1])
    table.insert(out, s[2])
    table.insert(out, s[3] or '')
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
