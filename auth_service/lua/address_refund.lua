-- Give back the allowance one admitted request took from a client address (address_limit.lua),
-- for limits that count failures only: the attempt is counted before it is checked, so that
-- parallel attempts cannot pass together, and refunded when it turned out to succeed.
-- KEYS[1] the address's GCRA key (ms since the epoch when its allowance is whole again)
-- ARGV[1] clock offset (ms) added to the store's clock (TIME): 0 except in tests
-- ARGV[2] interval between requests at the steady rate (ms)
-- Returns 0.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then
  return 0
end
tat = tat - tonumber(ARGV[2])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], tat, 'PX', tat - now)
end
return 0
