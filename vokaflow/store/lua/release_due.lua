-- Moves the tasks whose retry time has come from the retry schedule to their ready queues,
-- at the back of their priority level.
-- KEYS[1]  retry schedule   PREFIX:{pN}:delayed
-- ARGV[1]  now, epoch ms
-- ARGV[2]  task key prefix  PREFIX:{pN}:task:
-- ARGV[3]  queue key prefix PREFIX:{pN}:queue:
-- ARGV[4]  weight of one priority level in a queue score
-- ARGV[5]  how many at most
-- Returns the number released.
--@include lib/queue_score
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[2] .. id
  local state = redis.call('HMGET', key, 'status', 'worker_type', 'score')
  if state[1] == 'queued' then
    local score = queue_score(level_of_score(state[3], ARGV[4]), ARGV[4], ARGV[1])
    redis.call('HSET', key, 'score', score)
    redis.call('ZADD', ARGV[3] .. state[2], score, id)
  end
end
return #ids
