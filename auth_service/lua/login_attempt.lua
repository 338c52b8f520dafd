-- Count a login attempt for one email, or refuse it while the email is locked.
-- KEYS[1] the email's throttle hash: attempts, locked_until, forget_at (times in ms)
-- ARGV[1] clock offset (ms) added to the store's clock (TIME): 0 except in tests
-- ARGV[2] attempts before the delays start
-- ARGV[3] the first delay (ms)   ARGV[4] the longest delay (ms)
-- ARGV[5] how long failures are remembered past the lock (ms)
-- Returns 0 when the attempt may go ahead, or the ms left of the lock when it may not.
-- The attempt counts as a failure until the caller deletes the hash on success: counted
-- before the password is checked, parallel guesses cannot slip past the limit together.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'attempts', 'locked_until', 'forget_at')
local locked_until = tonumber(state[2]) or 0
if now < locked_until then
  return locked_until - now
end
local attempts = tonumber(state[1]) or 0
if now >= (tonumber(state[3]) or 0) then
  attempts = 0
end
attempts = attempts + 1
local free = tonumber(ARGV[2])
local memory = tonumber(ARGV[5])
local delay = 0
if attempts >= free then
  -- The exponent is capped so that the power stays a finite, exact number.
  delay = math.min(tonumber(ARGV[3]) * 2 ^ math.min(attempts - free, 40), tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], 'attempts', attempts, 'locked_until', now + delay,
  'forget_at', now + delay + memory)
redis.call('PEXPIRE', KEYS[1], delay + memory)
return 0
