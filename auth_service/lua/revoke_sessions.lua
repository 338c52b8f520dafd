-- End every live session of a user but one (logout everywhere), leaving tombstones.
-- KEYS[1] the user's session index   KEYS[2..] the session hashes the caller read in it
-- ARGV[1] clock offset (ms) added to the store's clock: 0 except in tests
-- ARGV[2] the reason ('revoked')   ARGV[3] the id of a session to keep, or ''
-- ARGV[4..] the session ids of KEYS[2..], in the same order
-- Every key is passed in KEYS: the caller reads the index first, and this script checks that
-- the index still holds exactly those ids, so a login in between is never missed.
-- Returns a flat key/value list:
--   outcome done, ended <how many live sessions were ended>
--   outcome retry: the index changed since the caller read it; nothing was done
local ids = {}
for i = 4, #ARGV do
  ids[ARGV[i]] = KEYS[i - 2]
end
if redis.call('ZCARD', KEYS[1]) ~= #ARGV - 3 then
  return {'outcome', 'retry'}
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not ids[id] then
    return {'outcome', 'retry'}
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local ended = 0
for i = 4, #ARGV do
  local id, key = ARGV[i], KEYS[i - 2]
  if id ~= ARGV[3] then
    local s = redis.call('HMGET', key, 'idle_deadline', 'abs_deadline', 'ended')
    if s[1] and not s[3] and now < tonumber(s[1]) and now < tonumber(s[2]) then
      redis.call('HDEL', key, 'gen', 'branch', 'parent_branch', 'answered_at', 'current', 'previous', 'nonce')
      redis.call('HSET', key, 'ended', ARGV[2])
      ended = ended + 1
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
return {'outcome', 'done', 'ended', ended}
