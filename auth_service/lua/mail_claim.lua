-- Take one due mail for one sending attempt, leasing it: if the sender dies, the job is
-- due again when the lease ends, so no mail is lost with a mailer.
-- KEYS[1] the queue (sorted set of job ids by when each is due, ms)
-- KEYS[2] the job the caller read as the queue's first (hash: flow, email, attempts, ...)
-- ARGV[1] that job's id   ARGV[2] the score the caller read for it   ARGV[3] the lease (ms)
-- Every key is passed in KEYS: the caller reads the queue's first job, and this script claims
-- it only if it is still there with the same score (no other mailer took it meanwhile).
-- Returns nil when that job is not due (so none is), {'retry'} when another mailer took it or
-- its hash was gone (the caller reads the queue again), else {id, flow, email, attempts (this
-- one counted), handed_over ('1' when an earlier attempt reached the DATA phase and its
-- outcome is unknown)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return {'retry'}
end
if tonumber(score) > now then
  return nil
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return {'retry'}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], 'leased', '1')
local attempts = redis.call('HINCRBY', KEYS[2], 'attempts', 1)
local fields = redis.call('HMGET', KEYS[2], 'flow', 'email', 'handed_over')
return {ARGV[1], fields[1], fields[2], attempts, fields[3] or ''}
