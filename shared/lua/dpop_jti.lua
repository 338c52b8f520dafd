-- Remember a DPoP proof's jti (RFC 9449 §11.1) for as long as its iat is acceptable, by this store's clock.
-- KEYS[1] the proof's jti key (a digest of its key's thumbprint and its jti)
-- ARGV[1] the proof's iat (seconds, possibly fractional)   ARGV[2] the window (seconds either way)
-- Returns {verdict, now in ms}, verdict one of
--   'outside': iat is more than the window from now; nothing is remembered
--   'replayed': the key is remembered already
--   'fresh': first use; the key is now remembered until iat + window (+1 s for rounding), the
--            last moment at which a proof with this iat is accepted, whatever the clock skew
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local iat_ms = math.floor(tonumber(ARGV[1]) * 1000)
local window_ms = tonumber(ARGV[2]) * 1000
if math.abs(now_ms - iat_ms) > window_ms then
  return {'outside', now_ms}
end
if redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', iat_ms + window_ms + 1000) then
  return {'fresh', now_ms}
end
return {'replayed', now_ms}
