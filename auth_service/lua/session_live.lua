-- Whether a session can still refresh now, by the store's clock (POST /introspect). Reads only.
-- KEYS[1] the session hash
-- ARGV[1] clock offset (ms) added to the store's clock: 0 except in tests
-- Returns 1 when the session is live (not ended, before its idle and absolute deadlines), else 0.
local s = redis.call('HMGET', KEYS[1], 'gen', 'current', 'ended', 'idle_deadline', 'abs_deadline')
if s[3] or not (s[1] or s[2]) or not s[4] or not s[5] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
if now >= tonumber(s[4]) or now >= tonumber(s[5]) then
  return 0
end
return 1
