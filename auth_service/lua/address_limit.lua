-- Admit one request from a client address if it keeps within its rate (GCRA, the generic cell
-- rate algorithm: a burst, then one request per interval).
-- KEYS[1] when the address's allowance is whole again for one action (ms since the epoch,
--         GCRA's theoretical arrival time; a string)
-- ARGV[1] clock offset (ms) added to the store's clock (TIME): 0 except in tests
-- ARGV[2] interval between requests at the steady rate (ms, at least 1)
-- ARGV[3] burst: how many requests may come at once
-- Returns 0 when the request is admitted (and recorded), or the ms until one more would be.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now) + interval
local admit_at = tat - interval * tonumber(ARGV[3])
if now < admit_at then
  return admit_at - now
end
redis.call('SET', KEYS[1], tat, 'PX', tat - now)
return 0
