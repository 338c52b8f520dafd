-- Count a login attempt for one email, or refuse it while its throttle is locked.
-- KEYS[1] the email's shared throttle hash: attempts, locked_until, forget_at (times in ms)
-- KEYS[2] sorted set: the client addresses that logged in to this email, scored by the ms
--         until which each counts as known (REFRESH_TOKEN_TTL after its last success)
-- KEYS[3] this address's own throttle hash for this email, the same fields as KEYS[1]
-- ARGV[1] clock offset (ms) added to the store's clock (TIME): 0 except in tests
-- ARGV[2] attempts before the delays start
-- ARGV[3] the first delay (ms)   ARGV[4] the longest delay (ms)
-- ARGV[5] how long failures are remembered past the lock (ms)
-- ARGV[6] the client's address as limited ("" when it cannot be told apart: never known)
-- Returns {wait, known}: wait 0 when the attempt may go ahead, or the ms left of the lock when
-- it may not; known 1 when the attempt counted on the address's own throttle (KEYS[3]).
-- An address that logged in before is throttled on its own failures only, so that strangers
-- hammering the email never lock its owner out; every other address shares KEYS[1].
-- The attempt counts as a failure until the caller's success script clears it: counted
-- before the password is checked, parallel guesses cannot slip past the limit together.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local address = ARGV[6]
local known = 0
if address ~= '' then
  local until_ms = tonumber(redis.call('ZSCORE', KEYS[2], address))
  if until_ms and until_ms > now then
    known = 1
  end
end
local throttle = KEYS[1]
if known == 1 then
  throttle = KEYS[3]
end
local state = redis.call('HMGET', throttle, 'attempts', 'locked_until', 'forget_at')
local locked_until = tonumber(state[2]) or 0
if now < locked_until then
  return {locked_until - now, known}
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
redis.call('HSET', throttle, 'attempts', attempts, 'locked_until', now + delay,
  'forget_at', now + delay + memory)
redis.call('PEXPIRE', throttle, delay + memory)
return {0, known}
