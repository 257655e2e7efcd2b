-- Records a task's outcome, once: only a running task of the same attempt is finished, so a
-- task cancelled or re-queued meanwhile keeps the state it has. The finished record expires
-- after the retention period; a failure after all retries is also listed as a dead letter.
-- The task moves to its status's task indexes (lib/task_index).
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  running set      PREFIX:{pN}:running
-- KEYS[3]  dead letters     PREFIX:{pN}:dead   (zset, score = when it failed, epoch ms);
--          the owner's own beside it (lib/owner_dead_letters), kept as long as the records
-- ARGV[1]  task id
-- ARGV[2]  attempt number the outcome belongs to
-- ARGV[3]  retention, ms (0 keeps the record)
-- ARGV[4]  '1' to list the task as a dead letter
-- ARGV[5]  now, epoch ms
-- ARGV[6]  the partition's key prefix PREFIX:{pN}: (its concurrency key, lib/concurrency;
--          its task indexes, lib/task_index)
-- ARGV[7..] field/value pairs to write (status, result, error, timings)
-- Returns 1 when written, 2 when written and the task has waiting children (their
-- dependencies, lifecycle.dependencies), 0 when the outcome was stale.
--@include lib/owner_dead_letters
--@include lib/concurrency
--@include lib/task_index
-- the record read once: the calls, not the work, were most of this script's cost
local state = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'concurrency', 'owner')
if state[1] ~= 'running' or state[2] ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
concurrency_release_of(ARGV[6], ARGV[1], state[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local status
for f = 7, #ARGV - 1, 2 do
  if ARGV[f] == 'status' then
    status = ARGV[f + 1]
  end
end
status = status or redis.call('HGET', KEYS[1], 'status')
ix_end_of(ARGV[6], ARGV[1], state[4] or ix_owner_of(KEYS[1]), status)
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  local own = owner_dead_letters(KEYS[3], KEYS[1])
  redis.call('ZADD', own, ARGV[5], ARGV[1])
  if tonumber(ARGV[3]) > 0 then
    redis.call('PEXPIRE', own, ARGV[3])
  end
end
return 1 + redis.call('EXISTS', ARGV[6] .. 'children:' .. ARGV[1])
