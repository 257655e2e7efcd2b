-- Append one event to a principal's stream, within the principal's limits.
-- KEYS[1] the principal's stream index (zset: name -> last event ms)
-- KEYS[2] the stream
-- ARGV: name, now_ms, ttl_ms, max_streams, maxlen, event
-- Returns {entry id, length, consumer groups}, or {false} when the principal already has
-- max_streams other live streams.
local name, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
if not redis.call('ZSCORE', KEYS[1], name)
    and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {false}
end
redis.call('ZADD', KEYS[1], now, name)
redis.call('PEXPIRE', KEYS[1], ttl)
-- Approximate trimming drops whole stream nodes: exact trimming costs far more per XADD.
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'event', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ttl)
return {id, redis.call('XLEN', KEYS[2]), #redis.call('XINFO', 'GROUPS', KEYS[2])}
