-- Records a task's outcome, once: only a running task of the same attempt is finished, so a
-- task cancelled or re-queued meanwhile keeps the state it has.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  running set      PREFIX:{pN}:running
-- ARGV[1]  task id
-- ARGV[2]  attempt number the outcome belongs to
-- ARGV[3..] field/value pairs to write (status, result, error, timings)
-- Returns 1 when written, 0 when the outcome was stale.
local state = redis.call('HMGET', KEYS[1], 'status', 'attempts')
if state[1] ~= 'running' or state[2] ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1
