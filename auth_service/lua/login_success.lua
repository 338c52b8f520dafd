-- A login to one email succeeded from a client address: clear the throttle that counted the
-- attempt, and remember the address as known to the email.
-- KEYS[1] the email's shared throttle hash   KEYS[2] the email's known addresses (sorted set,
--         scored by the ms until which each is known)   KEYS[3] the address's own throttle hash
-- ARGV[1] clock offset (ms) added to the store's clock (TIME): 0 except in tests
-- ARGV[2] the client's address as limited ("" when it cannot be told apart)
-- ARGV[3] how long a success keeps the address known (ms)   ARGV[4] most addresses kept
-- Returns 1 when the address was known before this success, else 0.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local address = ARGV[2]
if address == '' then
  redis.call('DEL', KEYS[1])
  return 0
end
local until_ms = tonumber(redis.call('ZSCORE', KEYS[2], address))
local known = 0
if until_ms and until_ms > now then
  known = 1
  redis.call('DEL', KEYS[3])  -- the shared throttle stays: a stranger may be hammering it
else
  redis.call('DEL', KEYS[1])
end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + ttl, address)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then
  redis.call('ZPOPMIN', KEYS[2], extra)  -- the addresses whose last success is oldest
end
redis.call('PEXPIRE', KEYS[2], ttl)
return known
