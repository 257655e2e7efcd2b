-- Append one event to a principal's stream, within the principal's limits: how many live
-- streams it keeps, and how many events and bytes each holds (the oldest go first).
-- KEYS[1] the principal's stream index (zset: name -> last event ms)
-- KEYS[2] the stream
-- KEYS[3] the bytes each of the principal's streams holds (hash: name -> bytes)
-- ARGV: name, now_ms, ttl_ms, max_streams, max_events, max_bytes, event
-- Returns {entry id, length, consumer groups}, or {false} when the principal already has
-- max_streams other live streams.
local name, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local max_events, max_bytes, event = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
if not redis.call('ZSCORE', KEYS[1], name)
    and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {false}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HDEL', KEYS[3], name)  -- a stream that expired took its bytes with it
end
local id = redis.call('XADD', KEYS[2], '*', 'event', event)
local bytes = redis.call('HINCRBY', KEYS[3], name, #event)
while bytes > max_bytes or redis.call('XLEN', KEYS[2]) > max_events do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[2], oldest[1])
  bytes = redis.call('HINCRBY', KEYS[3], name, -#oldest[2][2])
end
redis.call('ZADD', KEYS[1], now, name)
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ttl)
end
return {id, redis.call('XLEN', KEYS[2]), #redis.call('XINFO', 'GROUPS', KEYS[2])}
