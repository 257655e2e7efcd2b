-- Cancels a queued or running task; a terminal task is left as it is.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  running set      PREFIX:{pN}:running
-- ARGV[1]  task id
-- ARGV[2]  now, epoch seconds
-- ARGV[3]  queue key prefix PREFIX:{pN}:queue:   (+ the task's worker type, same slot)
-- Returns {outcome, previous status}: outcome is 'cancelled', 'terminal' or 'missing'.
local state = redis.call('HMGET', KEYS[1], 'status', 'worker_type')
local status = state[1]
if not status then
  return {'missing', ''}
end
if status ~= 'queued' and status ~= 'running' then
  return {'terminal', status}
end
redis.call('ZREM', ARGV[3] .. state[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'completed_at', ARGV[2], 'cancelled_at', ARGV[2])
return {'cancelled', status}
