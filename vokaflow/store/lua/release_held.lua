-- Releases a held task of a batch into its ready queue, at the back of its priority level.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  ready queue      PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]  task id
-- ARGV[2]  queue score
-- Returns 1 when released, 0 when the task is no longer waiting (cancelled meanwhile).
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then
  return 0
end
redis.call('HSET', KEYS[1], 'score', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
