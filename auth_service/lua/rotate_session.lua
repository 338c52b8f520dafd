-- Spend a refresh token: rotate the session, replay a parallel refresh, or revoke on reuse.
-- KEYS[1] the session hash       KEYS[2] the session's spent-token hashes (sorted set)
-- KEYS[3] the user's session index   KEYS[4] the user's account hash
-- ARGV[1] SHA-256 hex of the presented token
-- ARGV[2] now (ms)   ARGV[3] idle lifetime (ms)   ARGV[4] reuse grace (ms, 0 = none)
-- ARGV[5] a fresh nonce   ARGV[6] SHA-256 hex of the successor derived with ARGV[5]
-- ARGV[7] the session id   ARGV[8] how many spent hashes to remember
-- ARGV[9] the RFC 7638 thumbprint of the request's DPoP proof key, '' without a proof
-- Returns one of
--   {'rotated', nonce, idle deadline, absolute deadline, email, role}: the token was live;
--       the successor is the one derived with nonce (= ARGV[5])
--   {'grace', nonce, idle deadline, absolute deadline, email, role}: the token was spent less
--       than the grace ago; the caller derives the same successor the first use got
--   {'ended', reason[, 'now']}: the session is over, for reason 'reused' (a spent token
--       came back after the grace), 'expired_idle', 'expired_absolute', 'revoked' or
--       'password_changed'; 'now' when this very call ended it
--   {'unknown'}: no such session, or a token it never issued
--   {'dpop_key_mismatch'}: the session is bound to a DPoP key (its 'jkt') and ARGV[9] is not
--       it; checked before anything is spent or revoked, so a thief without the key can
--       neither refresh nor end the session
-- An ended session stays as a tombstone holding only its reason (see revoke_sessions.lua).
-- Hashes are compared with ==: they are SHA-256 of 256-bit secrets, so timing tells nothing.
local s = redis.call('HMGET', KEYS[1], 'current', 'previous', 'spent_at', 'nonce',
  'idle_deadline', 'abs_deadline', 'ended', 'jkt')
if s[7] then
  return {'ended', s[7]}
end
if not s[1] then
  return {'unknown'}
end
if s[8] and s[8] ~= ARGV[9] then
  return {'dpop_key_mismatch'}
end
local now = tonumber(ARGV[2])
local absolute = tonumber(s[6])

local function finish(reason)
  redis.call('DEL', KEYS[2])
  redis.call('HDEL', KEYS[1], 'current', 'previous', 'nonce')
  redis.call('HSET', KEYS[1], 'ended', reason)
  redis.call('ZREM', KEYS[3], ARGV[7])
  return {'ended', reason, 'now'}
end

if now >= absolute then
  return finish('expired_absolute')
end
if now >= tonumber(s[5]) then
  return finish('expired_idle')
end
local account = redis.call('HMGET', KEYS[4], 'email', 'role')
if not account[1] then
  return finish('revoked')
end

if ARGV[1] == s[1] then
  local idle = math.min(now + tonumber(ARGV[3]), absolute)
  redis.call('HSET', KEYS[1], 'current', ARGV[6], 'previous', ARGV[1], 'spent_at', now,
    'nonce', ARGV[5], 'last_used_at', now, 'idle_deadline', idle)
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[8]))
  redis.call('PEXPIREAT', KEYS[2], idle)
  return {'rotated', ARGV[5], idle, absolute, account[1], account[2]}
end
if ARGV[1] == s[2] and now < tonumber(s[3]) + tonumber(ARGV[4]) then
  return {'grace', s[4], tonumber(s[5]), absolute, account[1], account[2]}
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return finish('reused')
end
return {'unknown'}
