-- End one sending attempt of a claimed mail: done (sent, or given up), or due again later.
-- KEYS[1] the queue (sorted set of job ids by when each is due, ms)
-- KEYS[2] the job (hash)
-- ARGV[1] the job id
-- ARGV[2] '' when the job is done, else the ms until the next attempt
-- Returns 1. Time is Redis's.
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HDEL', KEYS[2], 'handed_over')
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
return 1
