-- Spend a refresh token: rotate the session, replay a parallel refresh, or revoke on reuse.
-- KEYS[1] the session hash       KEYS[2] the session's spent-token hashes (sorted set)
-- KEYS[3] the user's session index   KEYS[4] the user's account hash
-- ARGV[1] SHA-256 hex of the presented token
-- ARGV[2] now (ms)   ARGV[3] idle lifetime (ms)   ARGV[4] reuse grace (ms, 0 = none)
-- ARGV[5] a fresh nonce   ARGV[6] SHA-256 hex of the successor derived with ARGV[5]
-- ARGV[7] the session id   ARGV[8] how many spent hashes to remember
-- Returns one of
--   {'rotated', nonce, idle deadline, absolute deadline, email, role}: the token was live;
--       the successor is the one derived with nonce (= ARGV[5])
--   {'grace', nonce, idle deadline, absolute deadline, email, role}: the token was spent less
--       than the grace ago; the caller derives the same successor the first use got
--   {'reused'}: a spent token came back after the grace; the session is revoked
--   {'expired'}: the session outlived its idle or absolute lifetime; it is deleted
--   {'unknown'}: no such session, or a token it never issued
-- Hashes are compared with ==: they are SHA-256 of 256-bit secrets, so timing tells nothing.
local s = redis.call('HMGET', KEYS[1], 'current', 'previous', 'spent_at', 'nonce',
  'idle_deadline', 'abs_deadline')
if not s[1] then
  return {'unknown'}
end
local now = tonumber(ARGV[2])
local absolute = tonumber(s[6])

local function revoke()
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[7])
end

if now >= tonumber(s[5]) or now >= absolute then
  revoke()
  return {'expired'}
end
local account = redis.call('HMGET', KEYS[4], 'email', 'role')
if not account[1] then
  revoke()
  return {'unknown'}
end

if ARGV[1] == s[1] then
  local idle = math.min(now + tonumber(ARGV[3]), absolute)
  redis.call('HSET', KEYS[1], 'current', ARGV[6], 'previous', ARGV[1], 'spent_at', now,
    'nonce', ARGV[5], 'last_used_at', now, 'idle_deadline', idle)
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[8]))
  redis.call('PEXPIREAT', KEYS[1], idle)
  redis.call('PEXPIREAT', KEYS[2], idle)
  return {'rotated', ARGV[5], idle, absolute, account[1], account[2]}
end
if ARGV[1] == s[2] and now < tonumber(s[3]) + tonumber(ARGV[4]) then
  return {'grace', s[4], tonumber(s[5]), absolute, account[1], account[2]}
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  revoke()
  return {'reused'}
end
return {'unknown'}
