-- Spend a single-use email token (password reset or email verification) of one account.
-- KEYS[1] the account's live token of that kind (a string: SHA-256 hex of the token; it expires
--         with the token's life, on the store's clock)
-- KEYS[2] the account's hash (user:{<id>})
-- ARGV[1] SHA-256 hex of the token presented
-- ARGV[2] a field of KEYS[2] to set to '1' as the token is spent ('email_verified'), or ''
-- Returns 1 when the token was the live one (it is gone now, and the field set), 0 when it is
-- unknown, spent, replaced by a newer one or expired, or the account is gone.
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], '1')
end
return 1
