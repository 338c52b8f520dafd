-- End one sending attempt of a claimed mail: done (sent, or given up), or due again later.
-- KEYS[1] the queue (sorted set of job ids by when each is due, ms)
-- KEYS[2] the job (hash: flow, email, attempts, leased, handed_over, again)
-- ARGV[1] the job id
-- ARGV[2] '' when the attempt ended the job, else the ms until the next attempt
-- A job done while a new request came for it ('again') starts over, due now, as a new job.
-- Returns 1. Time is Redis's.
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '' then
  -- The next attempt mints its token after any request that came meanwhile: that one is served.
  redis.call('HDEL', KEYS[2], 'leased', 'handed_over', 'again')
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
elseif redis.call('HGET', KEYS[2], 'again') == '1' then
  redis.call('HDEL', KEYS[2], 'leased', 'handed_over', 'again')
  redis.call('HSET', KEYS[2], 'attempts', 0)
  redis.call('ZADD', KEYS[1], now, ARGV[1])
else
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
