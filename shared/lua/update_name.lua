-- Replace an account's public profile if it is still the one the caller read (compare and set).
-- KEYS[1] the public profiles (hash: user id -> JSON)
-- ARGV[1] the user id   ARGV[2] the profile JSON read   ARGV[3] the new profile JSON
-- Returns 1 when replaced, 0 when the profile changed meanwhile or is gone.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
