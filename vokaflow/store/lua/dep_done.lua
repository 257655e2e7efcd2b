-- Counts one parent's end for a waiting child, in the child's slot; once per parent however
-- often it is told (parents ending at once on different partitions, a sweep, a replay).
-- KEYS[1]  child hash       PREFIX:{pN}:task:CHILD
-- KEYS[2]  its ended parents PREFIX:{pN}:deps-done:CHILD   (set of parent ids)
-- KEYS[3]  waiting index    PREFIX:{pN}:waiting            (zset, score = next sweep, ms)
-- ARGV[1]  child id
-- ARGV[2]  parent id
-- ARGV[3]  '1' when the parent completed, '0' when it ended otherwise
-- ARGV[4]  now, epoch seconds
-- ARGV[5]  the error to record when the child ends upstream_failed (JSON)
-- ARGV[6]  retention of an ended record, ms (0 keeps it)
-- ARGV[7]  the child's partition's key prefix PREFIX:{pN}: (its task indexes, lib/task_index)
-- Returns 'stale' (the child no longer waits), 'counted' (this parent was counted before),
-- 'waiting' (parents still running), 'ready' (every parent ended as its trigger rule asks:
-- lifecycle.dependencies releases it) or 'upstream_failed' (ended here, not run).
--@include lib/task_index
local state = redis.call('HMGET', KEYS[1], 'status', 'deps', 'trigger_rule')
if state[1] ~= 'waiting' then
  return 'stale'
end
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then
  return 'counted'
end
if ARGV[3] ~= '1' and state[3] ~= 'all_done' then
  redis.call('HSET', KEYS[1], 'status', 'upstream_failed', 'completed_at', ARGV[4],
    'error', ARGV[5])
  ix_end(ARGV[7], ARGV[1], KEYS[1], 'upstream_failed')
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('DEL', KEYS[2])
  if tonumber(ARGV[6]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
  end
  return 'upstream_failed'
end
if redis.call('SCARD', KEYS[2]) < tonumber(state[2]) then
  return 'waiting'
end
return 'ready'
