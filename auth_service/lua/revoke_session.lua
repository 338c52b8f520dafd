-- End one session (logout, or its owner deleting it), leaving a tombstone with the reason.
-- KEYS[1] the session hash   KEYS[2] its spent-token hashes   KEYS[3] the user's session index
-- ARGV[1] the session id
-- ARGV[2] SHA-256 hex of a refresh token that must belong to the session, or '' when the
--         caller already proved ownership (an access token of the session's user)
-- ARGV[3] with ARGV[2]: the thumbprint of the request's DPoP proof key, '' without a proof
-- Returns 1 when a live session was ended, 0 when there was none to end, -1 when the session
-- is bound to a DPoP key (its 'jkt') and ARGV[3] is not it: a refresh token alone, without
-- the key, cannot end a bound session.
local s = redis.call('HMGET', KEYS[1], 'current', 'previous', 'ended', 'jkt')
if not s[1] or s[3] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
if ARGV[2] ~= '' and ARGV[2] ~= s[1] and ARGV[2] ~= s[2]
    and not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return 0
end
if ARGV[2] ~= '' and s[4] and s[4] ~= ARGV[3] then
  return -1
end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'current', 'previous', 'nonce')
redis.call('HSET', KEYS[1], 'ended', 'revoked')
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
