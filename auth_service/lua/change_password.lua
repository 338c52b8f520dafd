-- Set a new password hash if the password is still the one the change was checked against,
-- and end the user's other live sessions in the same step, so that no session of the old
-- password can refresh after it.
-- KEYS[1] the user's account hash   KEYS[2] the user's session index
-- KEYS[3..] the session hashes the caller read in the index
-- ARGV[1] clock offset (ms) added to the store's clock: 0 except in tests
-- ARGV[2] the password hash the change was checked against, or '' (an admin's reset)
-- ARGV[3] the new password hash   ARGV[4] the reason ('password_changed'), or '' to end none
-- ARGV[5] the id of a session to keep, or ''   ARGV[6..] the session ids of KEYS[3..]
-- Returns a flat key/value list:
--   outcome done, ended <how many live sessions were ended>
--   outcome conflict: the account is gone, or its hash is no longer ARGV[2]; nothing was done
--   outcome retry: the index changed since the caller read it; nothing was done
local stored = redis.call('HGET', KEYS[1], 'password_hash')
if not stored or (ARGV[2] ~= '' and stored ~= ARGV[2]) then
  return {'outcome', 'conflict'}
end
local ids = {}
for i = 6, #ARGV do
  ids[ARGV[i]] = true
end
if ARGV[4] ~= '' then
  if redis.call('ZCARD', KEYS[2]) ~= #ARGV - 5 then
    return {'outcome', 'retry'}
  end
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if not ids[id] then
      return {'outcome', 'retry'}
    end
  end
end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[3])
local ended = 0
if ARGV[4] == '' then
  return {'outcome', 'done', 'ended', ended}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 6, #ARGV do
  local id, key = ARGV[i], KEYS[i - 3]
  if id ~= ARGV[5] then
    local s = redis.call('HMGET', key, 'idle_deadline', 'abs_deadline', 'ended')
    if s[1] and not s[3] and now < tonumber(s[1]) and now < tonumber(s[2]) then
      redis.call('HDEL', key, 'gen', 'branch', 'parent_branch', 'answered_at', 'current', 'previous', 'nonce')
      redis.call('HSET', key, 'ended', ARGV[4])
      ended = ended + 1
    end
    redis.call('ZREM', KEYS[2], id)
  end
end
return {'outcome', 'done', 'ended', ended}
