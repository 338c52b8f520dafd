-- End every session of a user but one (logout everywhere, a password change), leaving
-- tombstones with the reason; with a password change, set the new hash in the same step,
-- so that no session of the old password can refresh after it.
-- KEYS[1] the user's session index (sorted set of session ids)
-- KEYS[2] the user's account hash
-- ARGV[1] the prefix of the user's session keys (session key = prefix .. id)
-- ARGV[2] the suffix of a session's spent-token key (spent key = prefix .. id .. suffix)
-- ARGV[3] the reason: 'revoked' or 'password_changed', or '' to end no session
-- ARGV[4] the id of a session to keep, or ''
-- ARGV[5] the new password hash, or '' to leave the password alone
-- ARGV[6] the password hash the change was checked against, or '' (an admin's reset)
-- Session keys are derived here, not passed: they carry KEYS[1]'s hash tag, so they live in
-- its cluster slot, and reading the index in the same script is what makes this atomic
-- against a concurrent login.
-- Returns how many sessions were ended, or -1 when the account is gone or its password
-- hash is no longer ARGV[6] (changed meanwhile): then nothing was done.
if ARGV[5] ~= '' then
  local stored = redis.call('HGET', KEYS[2], 'password_hash')
  if not stored or (ARGV[6] ~= '' and stored ~= ARGV[6]) then
    return -1
  end
  redis.call('HSET', KEYS[2], 'password_hash', ARGV[5])
end
local ended = 0
if ARGV[3] == '' then
  return ended
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[4] then
    local key = ARGV[1] .. id
    if redis.call('HEXISTS', key, 'current') == 1 then
      redis.call('HDEL', key, 'current', 'previous', 'nonce')
      redis.call('HSET', key, 'ended', ARGV[3])
      ended = ended + 1
    end
    redis.call('DEL', key .. ARGV[2])
    redis.call('ZREM', KEYS[1], id)
  end
end
return ended
