-- Creates a schedule unless its owner already has the most it may.
-- KEYS[1]  schedule hash    PREFIX:{sched}:schedule:ID
-- KEYS[2]  due zset         PREFIX:{sched}:due
-- KEYS[3]  owner's set      PREFIX:{sched}:by-owner:DIGEST
-- KEYS[4]  every schedule   PREFIX:{sched}:all
-- ARGV[1]  schedule id
-- ARGV[2]  the owner's cap
-- ARGV[3]  spec JSON
-- ARGV[4]  version
-- ARGV[5]  next fire, epoch seconds, or '' (paused, or no fire left)
-- Returns 1, or 0 when the owner is at its cap.
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'spec', ARGV[3], 'version', ARGV[4], 'next_fire', ARGV[5])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
return 1
