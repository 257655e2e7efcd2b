-- Rewrites a schedule (patch, pause, resume) if nobody changed it since it was read.
-- KEYS[1]  schedule hash    PREFIX:{sched}:schedule:ID
-- KEYS[2]  due zset         PREFIX:{sched}:due
-- ARGV[1]  schedule id
-- ARGV[2]  the version that was read
-- ARGV[3]  new spec JSON
-- ARGV[4]  new version
-- ARGV[5]  next fire, epoch seconds, or '' (paused, or no fire left)
-- Returns 1, 0 when the version moved on (read again), -1 when the schedule is gone.
local version = redis.call('HGET', KEYS[1], 'version')
if not version then
  return -1
end
if version ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'spec', ARGV[3], 'version', ARGV[4], 'next_fire', ARGV[5])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
