-- Read a user's live sessions, by the store's clock. Reads only: listing never removes
-- anything from the index (only a script that ends a session does).
-- KEYS[1..] the session hashes the caller read in the user's session index
-- ARGV[1] clock offset (ms) added to the store's clock: 0 except in tests
-- ARGV[2..] the session ids of KEYS[1..], in the same order
-- Returns a flat list: id, created_at, last_used_at, user_agent, for each live session.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local s = redis.call('HMGET', key, 'created_at', 'last_used_at', 'user_agent',
    'idle_deadline', 'abs_deadline', 'ended')
  if s[4] and not s[6] and now < tonumber(s[4]) and now < tonumber(s[5]) then
    table.insert(out, ARGV[i + 1])
    table.insert(out, s[1])
    table.insert(out, s[2])
    table.insert(out, s[3] or '')
  end
end
return out
