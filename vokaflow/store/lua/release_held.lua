-- Releases a held task of a batch into its ready queue, at the back of its priority level.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- ARGV[1]  task id
-- ARGV[2]  queue key prefix PREFIX:{pN}:queue:   (+ the task's worker type, same slot)
-- ARGV[3]  now, epoch ms
-- ARGV[4]  weight of one priority level in a queue score
-- Returns 1 when released, 0 when the task is no longer waiting (cancelled meanwhile).
--@include lib/queue_score
local state = redis.call('HMGET', KEYS[1], 'status', 'worker_type', 'score')
if state[1] ~= 'queued' then
  return 0
end
local score = queue_score(level_of_score(state[3], ARGV[4]), ARGV[4], ARGV[3])
redis.call('HSET', KEYS[1], 'score', score)
redis.call('ZADD', ARGV[2] .. state[2], score, ARGV[1])
return 1
