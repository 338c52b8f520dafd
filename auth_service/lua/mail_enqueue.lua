-- Queue a mail to send now, unless the same one (flow and address) is queued already: then
-- the two requests share one mail, and a job waiting out a retry keeps its backoff.
-- KEYS[1] the queue (sorted set of job ids by when each is due, ms)
-- KEYS[2] the job (hash)
-- ARGV[1] the job id   ARGV[2] the flow ('reset' or 'verify')   ARGV[3] the email address
-- Returns 1 when a job was added, 0 when it joined one queued already. Time is Redis's.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], 'flow', ARGV[2], 'email', ARGV[3])
return redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
