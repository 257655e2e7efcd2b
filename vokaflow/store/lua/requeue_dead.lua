-- Sends a dead letter back to its queue for a fresh set of attempts, at the back of its
-- priority level. The record no longer expires; requeued_at (epoch ms) is where the
-- first attempt's queue wait now counts from.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  dead letters     PREFIX:{pN}:dead
-- ARGV[1]  task id
-- ARGV[2]  queue key prefix PREFIX:{pN}:queue:   (+ the task's worker type, same slot)
-- ARGV[3]  now, epoch ms
-- ARGV[4]  the queue score's weight of one priority level
-- ARGV[5]  wake-up channel
-- ARGV[6]  the partition's key prefix PREFIX:{pN}: (its task indexes, lib/task_index: the
--          task is live again)
-- Returns {'requeued', the record as the requeue left it (HGETALL)}, {'missing'}, or {the
-- status of a task that is not a dead letter}: the answer cannot show a later state.
--@include lib/queue_score
--@include lib/owner_dead_letters
--@include lib/task_index
local state = redis.call('HMGET', KEYS[1], 'status', 'worker_type', 'score')
if not state[1] then
  return {'missing'}
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {state[1]}
end
local score = queue_score(level_of_score(state[3], ARGV[4]), ARGV[4], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', owner_dead_letters(KEYS[2], KEYS[1]), ARGV[1])
ix_revive(ARGV[6], ARGV[1], KEYS[1], state[1])
redis.call('PERSIST', KEYS[1])
redis.call('HDEL', KEYS[1], 'result', 'completed_at', 'started_at', 'execution_time',
  'retry_at', 'worker_pid', 'dispatched_at', 'progress')
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', '0', 'system_retries', '0',
  'score', score, 'requeued_at', ARGV[3])
redis.call('ZADD', ARGV[2] .. state[2], score, ARGV[1])
redis.call('PUBLISH', ARGV[5], state[2])
return {'requeued', redis.call('HGETALL', KEYS[1])}
