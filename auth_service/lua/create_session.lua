-- Open a refresh session for a login.
-- KEYS[1] the session hash          KEYS[2] the user's session index (sorted set)
-- KEYS[3] the user's account hash
-- ARGV[1] SHA-256 hex of the first refresh token
-- ARGV[2] now (ms)   ARGV[3] idle lifetime (ms)   ARGV[4] absolute lifetime (ms)
-- ARGV[5] the session id   ARGV[6] the client's user agent
-- ARGV[7] how long (ms) the record outlives its absolute deadline, to tell why it ended
-- ARGV[8] the password hash the login was checked against: a password changed since (its
--         change ended every session) must not leave this login a session of the old one
-- ARGV[9] the RFC 7638 thumbprint of the DPoP key the session is bound to, '' for none
-- Returns {idle deadline, absolute deadline} in ms, or false when the account is gone or
-- its password hash is no longer ARGV[8].
if redis.call('HGET', KEYS[3], 'password_hash') ~= ARGV[8] then
  return false
end
local now = tonumber(ARGV[2])
local absolute = now + tonumber(ARGV[4])
local idle = math.min(now + tonumber(ARGV[3]), absolute)
redis.call('HSET', KEYS[1],
  'current', ARGV[1], 'created_at', now, 'last_used_at', now,
  'idle_deadline', idle, 'abs_deadline', absolute, 'user_agent', ARGV[6])
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'jkt', ARGV[9])
end
redis.call('PEXPIREAT', KEYS[1], absolute + tonumber(ARGV[7]))
-- The index is scored by absolute deadline: drop what has certainly expired.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], absolute, ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return {idle, absolute}
