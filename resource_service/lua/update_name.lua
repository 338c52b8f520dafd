-- Change the name of an existing account, never creating one.
-- KEYS[1] the account's public profile ({accounts}:profile:<user id>)
-- ARGV[1] the new name
-- Returns the profile's id, email, name and created_at after the change,
-- or nil (false) when there is no such account.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('HSET', KEYS[1], 'name', ARGV[1])
return redis.call('HMGET', KEYS[1], 'id', 'email', 'name', 'created_at')
