-- Takes tokens from one category's bucket, on Redis's clock, atomically: the same limit holds
-- across every gateway replica. Also counts admitted tasks per second for usage reports.
-- KEYS[1]  bucket hash      PREFIX:{rl:CATEGORY}:bucket   fields: tokens, ts (epoch s)
-- ARGV[1]  refill rate, tokens per second (the category's limit_per_second)
-- ARGV[2]  capacity (the category's burst)
-- ARGV[3]  tokens wanted
-- ARGV[4]  '1' to grant as many as there are (a batch), '0' for all or nothing
-- ARGV[5]  usage key prefix PREFIX:{rl:CATEGORY}:usage:  (+ epoch second, same slot)
-- Returns {granted, tokens left (string), now (string), admitted this second}.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local granted = 0
if ARGV[4] == '1' then
  granted = math.min(wanted, math.floor(tokens))
elseif tokens >= wanted then
  granted = wanted
end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
local usage_key = ARGV[5] .. t[1]
local used
if granted > 0 then
  used = redis.call('INCRBY', usage_key, granted)
  redis.call('EXPIRE', usage_key, 120)
else
  used = tonumber(redis.call('GET', usage_key) or '0')
end
return {granted, string.format('%.6f', tokens), string.format('%.6f', now), used}
