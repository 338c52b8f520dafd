-- Revoke every session of a user (logout everywhere).
-- KEYS[1] the user's session index (sorted set of session ids)
-- ARGV[1] the prefix of the user's session keys (session key = prefix .. id)
-- ARGV[2] the suffix of a session's spent-token key (spent key = prefix .. id .. suffix)
-- The session keys are derived here, not passed: they carry KEYS[1]'s hash tag, so
-- they live in its cluster slot, and reading the index in the same script is what
-- makes the revocation atomic against a concurrent login.
-- Returns how many sessions were revoked.
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local revoked = 0
for _, id in ipairs(ids) do
  revoked = revoked + redis.call('DEL', ARGV[1] .. id)
  redis.call('DEL', ARGV[1] .. id .. ARGV[2])
end
redis.call('DEL', KEYS[1])
return revoked
