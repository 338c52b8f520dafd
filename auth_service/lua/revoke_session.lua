-- End one session (logout, or its owner deleting it), leaving a tombstone with the reason.
-- KEYS[1] the session hash   KEYS[2] the user's session index
-- ARGV[1] the session id
-- ARGV[2] the generation of a refresh token of the session (its HMAC checked by the caller),
--         '' when the caller proved ownership otherwise (an access token of the session's
--         user), or 'legacy' for a token made before HMAC tokens
-- ARGV[3] that token's branch   ARGV[4] SHA-256 hex of a legacy token, or ''
-- Returns 1 when a session was ended, 0 when there was none to end (or the token is not one
-- the session issued).
local s = redis.call('HMGET', KEYS[1], 'gen', 'branch', 'parent_branch', 'ended', 'current', 'previous',
  'idle_deadline')
if not s[7] or s[4] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if ARGV[2] == 'legacy' then
  if not s[5] or (ARGV[4] ~= s[5] and ARGV[4] ~= s[6]) then
    return 0
  end
elseif ARGV[2] ~= '' then
  if not s[1] then
    return 0
  end
  local gen, branch, parent = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
  local g, b = tonumber(ARGV[2]), tonumber(ARGV[3])
  if g > gen or (g == gen and b > branch) or (g == gen - 1 and b > parent) then
    return 0
  end
end
redis.call('HDEL', KEYS[1], 'gen', 'branch', 'parent_branch', 'answered_at', 'current', 'previous', 'nonce')
redis.call('HSET', KEYS[1], 'ended', 'revoked')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
