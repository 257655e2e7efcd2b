-- Ends a scheduled, waiting, queued or running task with the given status (cancelled, timeout); a
-- task that already ended keeps its state. The task moves to its status's task indexes.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  running set      PREFIX:{pN}:running
-- KEYS[3]  retry schedule   PREFIX:{pN}:delayed
-- KEYS[4]  delayed tasks    PREFIX:{pN}:scheduled
-- ARGV[1]  task id
-- ARGV[2]  now, epoch seconds
-- ARGV[3]  queue key prefix PREFIX:{pN}:queue:   (+ the task's worker type, same slot)
-- ARGV[4]  the status to end with
-- ARGV[5]  an error message to record, or ''
-- ARGV[6]  retention of the ended record, ms (0 keeps it)
-- ARGV[7]  the partition's key prefix PREFIX:{pN}: (its concurrency key, lib/concurrency;
--          its task indexes, lib/task_index)
-- Returns {outcome, previous status, batch id}: outcome is 'ended', 'terminal' or 'missing'.
--@include lib/concurrency
--@include lib/task_index
local state = redis.call('HMGET', KEYS[1], 'status', 'worker_type', 'batch_id')
local status = state[1]
if not status then
  return {'missing', '', ''}
end
if status ~= 'scheduled' and status ~= 'waiting' and status ~= 'queued'
    and status ~= 'running' then
  return {'terminal', status, state[3] or ''}
end
redis.call('ZREM', ARGV[3] .. state[2], ARGV[1])
if status == 'running' then
  concurrency_release(ARGV[7], ARGV[1])
else
  concurrency_forget(ARGV[7], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', ARGV[7] .. 'waiting', ARGV[1])
redis.call('DEL', ARGV[7] .. 'deps-done:' .. ARGV[1])
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'completed_at', ARGV[2])
ix_end(ARGV[7], ARGV[1], KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[5])
end
if tonumber(ARGV[6]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return {'ended', status, state[3] or ''}
