-- Open a refresh session for a login, ending the user's least recently used session when
-- the user already has the most allowed.
-- KEYS[1] the new session's hash   KEYS[2] the user's session index (sorted set: session id
--         scored by its idle deadline, ms)   KEYS[3] the user's account hash
-- KEYS[4] (optional) the session the caller read as the index's first (the one to end if the
--         user is at the limit)
-- ARGV[1] clock offset (ms) added to the store's clock: 0 except in tests
-- ARGV[2] idle lifetime (ms)   ARGV[3] absolute lifetime (ms)   ARGV[4] the session id
-- ARGV[5] the client's user agent
-- ARGV[6] how long (ms) the record outlives its absolute deadline, to tell why it ended
-- ARGV[7] the password hash the login was checked against: a password changed since (its
--         change ended every session) must not leave this login a session of the old one
-- ARGV[8] the most live sessions a user may have   ARGV[9] the session id of KEYS[4], or ''
-- ARGV[10] the RFC 7638 thumbprint of the DPoP key the session is bound to, '' for none
-- Returns a flat key/value list:
--   outcome created, expires_in <seconds until the idle deadline>[, evicted <id>: the live
--       session ended to make room]
--   outcome password_changed: the account is gone or its hash is no longer ARGV[7]
--   outcome retry, evict <id>: the user is at the limit and <id>, not ARGV[9], is the least
--       recently used session; call again with it as KEYS[4]. Nothing was changed.
-- Every deadline is judged by the store's clock (TIME), never by the caller's.
if redis.call('HGET', KEYS[3], 'password_hash') ~= ARGV[7] then
  return {'outcome', 'password_changed'}
end
local evicted = nil
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
-- Index entries whose idle deadline passed name sessions that ended by that same clock.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if first ~= ARGV[9] then
    return {'outcome', 'retry', 'evict', first}
  end
  if redis.call('EXISTS', KEYS[4]) == 1 and not redis.call('HGET', KEYS[4], 'ended') then
    redis.call('HDEL', KEYS[4], 'gen', 'branch', 'parent_branch', 'answered_at', 'current', 'previous', 'nonce')
    redis.call('HSET', KEYS[4], 'ended', 'evicted')
    evicted = ARGV[9]
  end
  redis.call('ZREM', KEYS[2], ARGV[9])
end
local absolute = now + tonumber(ARGV[3])
local idle = math.min(now + tonumber(ARGV[2]), absolute)
redis.call('HSET', KEYS[1], 'gen', 0, 'branch', 0, 'parent_branch', -1, 'answered_at', 0,
  'created_at', now, 'last_used_at', now, 'idle_deadline', idle, 'abs_deadline', absolute,
  'user_agent', ARGV[5])
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'jkt', ARGV[10])
end
redis.call('PEXPIREAT', KEYS[1], absolute + tonumber(ARGV[6]))
redis.call('ZADD', KEYS[2], idle, ARGV[4])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
if evicted then
  return {'outcome', 'created', 'expires_in', math.floor((idle - now) / 1000), 'evicted', evicted}
end
return {'outcome', 'created', 'expires_in', math.floor((idle - now) / 1000)}
