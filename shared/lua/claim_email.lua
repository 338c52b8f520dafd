-- Claim an email for a new account, publish its profile and list it; or say the email is taken.
-- KEYS[1] the email key ({accounts}:email:<email>)
-- KEYS[2] the users index (sorted set, all scores 0)
-- KEYS[3] the public profiles (hash: user id -> JSON)
-- ARGV[1] the new user id
-- ARGV[2] the index member for the user (<created ms, 13 digits>:<user id>)
-- ARGV[3] the account's public profile, as JSON
-- Returns 1 when claimed, 0 when the email belongs to someone already.
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('ZADD', KEYS[2], 0, ARGV[2])
  return 1
end
return 0
