-- Take the next due mail for one sending attempt, leasing it: if the sender dies, the job is
-- due again when the lease ends, so no mail is lost with a mailer.
-- KEYS[1] the queue (sorted set of job ids by when each is due, ms)
-- ARGV[1] the prefix of job keys (job key = prefix .. id; the same hash tag as KEYS[1])
-- ARGV[2] the lease (ms)
-- Returns nil when no mail is due, else {id, flow, email, attempts (this one counted),
-- handed_over ('1' when an earlier attempt reached the DATA phase and its outcome is unknown)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then
  return nil
end
local id = due[1]
local key = ARGV[1] .. id
if redis.call('EXISTS', key) == 0 then
  redis.call('ZREM', KEYS[1], id)
  return nil
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
redis.call('HSET', key, 'leased', '1')
local attempts = redis.call('HINCRBY', key, 'attempts', 1)
local fields = redis.call('HMGET', key, 'flow', 'email', 'handed_over')
return {id, fields[1], fields[2], attempts, fields[3] or ''}
