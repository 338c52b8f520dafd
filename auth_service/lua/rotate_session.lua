-- Spend a refresh token: rotate the session, answer a parallel or lost refresh, or revoke on reuse.
-- A session keeps only where its token chain stands: the live token is (gen, branch), its
-- parent (gen - 1, parent_branch), and answered_at is when the latest answer for that parent
-- went out. The caller has checked the token's HMAC, so (generation, branch) is one the server
-- minted. See README "Refresh sessions" for the table of cases.
-- KEYS[1] the session hash   KEYS[2] the user's session index   KEYS[3] the user's account hash
-- ARGV[1] clock offset (ms) added to the store's clock: 0 except in tests
-- ARGV[2] the presented token's generation, or '' for a legacy token (made before HMAC tokens)
-- ARGV[3] the presented token's branch   ARGV[4] idle lifetime (ms)
-- ARGV[5] reuse grace (ms, 0 = none)   ARGV[6] the session id
-- ARGV[7] SHA-256 hex of a legacy token, or ''
-- Returns a flat key/value list:
--   outcome rotated|grace|reissued, generation <n>, branch <n>, expires_in <s>, email, role:
--       the caller mints the token (generation, branch) and answers it. rotated: the live token
--       was spent; grace: its parent again within the grace (the same successor); reissued: its
--       parent after the grace, its successor never used (a lost answer): a new branch
--   outcome ended, reason <why>, ended_now 1|0: the session is over ('reused', 'expired_idle',
--       'expired_absolute', 'revoked', 'password_changed', 'evicted', 'upgraded'); ended_now 1
--       when this very call ended it
--   outcome unknown: no such session, or a token it never issued
local s = redis.call('HMGET', KEYS[1], 'gen', 'branch', 'parent_branch', 'answered_at',
  'idle_deadline', 'abs_deadline', 'ended', 'current', 'previous')
if s[7] then
  return {'outcome', 'ended', 'reason', s[7], 'ended_now', 0}
end
if not s[5] then
  return {'outcome', 'unknown'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local absolute = tonumber(s[6])

local function finish(reason)
  redis.call('HDEL', KEYS[1], 'gen', 'branch', 'parent_branch', 'answered_at', 'current', 'previous', 'nonce')
  redis.call('HSET', KEYS[1], 'ended', reason)
  redis.call('ZREM', KEYS[2], ARGV[6])
  return {'outcome', 'ended', 'reason', reason, 'ended_now', 1}
end

if now >= absolute then
  return finish('expired_absolute')
end
if now >= tonumber(s[5]) then
  return finish('expired_idle')
end
if ARGV[2] == '' then
  -- A session opened before HMAC tokens: ended at its next refresh, saying why.
  if s[8] and (ARGV[7] == s[8] or ARGV[7] == s[9]) then
    return finish('upgraded')
  end
  return {'outcome', 'unknown'}
end
if not s[1] then
  return {'outcome', 'unknown'}
end
local account = redis.call('HMGET', KEYS[3], 'email', 'role')
if not account[1] then
  return finish('revoked')
end

local gen, branch, parent = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
local g, b = tonumber(ARGV[2]), tonumber(ARGV[3])

local function answer(outcome, new_gen, new_branch)
  local idle = math.min(now + tonumber(ARGV[4]), absolute)
  redis.call('HSET', KEYS[1], 'gen', new_gen, 'branch', new_branch, 'answered_at', now,
    'last_used_at', now, 'idle_deadline', idle)
  redis.call('ZADD', KEYS[2], idle, ARGV[6])
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[2], last[2])
  return {'outcome', outcome, 'generation', new_gen, 'branch', new_branch,
    'expires_in', math.floor((idle - now) / 1000), 'email', account[1], 'role', account[2] or ''}
end

if g == gen and b == branch then
  redis.call('HSET', KEYS[1], 'parent_branch', branch)
  return answer('rotated', gen + 1, 0)
end
if g == gen - 1 and b == parent then
  if now < tonumber(s[4]) + tonumber(ARGV[5]) then
    return answer('grace', gen, branch)
  end
  return answer('reissued', gen, branch + 1)
end
if g > gen or (g == gen and b > branch) or (g == gen - 1 and b > parent) then
  return {'outcome', 'unknown'}  -- never issued: only a leaked key could have made it
end
-- A token this session issued and has since spent or superseded: two parties held it.
return finish('reused')
