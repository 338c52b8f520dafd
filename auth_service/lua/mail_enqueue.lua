-- Queue a mail to send now. If the same one (flow and address) waits already, the two
-- requests share its mail (its token is minted as it is sent), and a job waiting out a retry
-- keeps its backoff; if it is being sent right now, it is sent once more afterwards, so the
-- newest request always gets a mail with a token minted after it.
-- KEYS[1] the queue (sorted set of job ids by when each is due, ms)
-- KEYS[2] the job (hash: flow, email, attempts, leased, handed_over, again)
-- ARGV[1] the job id   ARGV[2] the flow ('reset' or 'verify')   ARGV[3] the email address
-- Returns 1 when a job was added, 0 when the request joined one. Time is Redis's.
if redis.call('HGET', KEYS[2], 'leased') == '1' then
  redis.call('HSET', KEYS[2], 'again', '1')
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], 'flow', ARGV[2], 'email', ARGV[3])
return redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
