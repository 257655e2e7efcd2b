-- Sends a failed attempt back for another one after a backoff: the task leaves the running
-- set for the partition's retry schedule, keeping its last error.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  running set      PREFIX:{pN}:running
-- KEYS[3]  retry schedule   PREFIX:{pN}:delayed   (zset, score = when it may run, epoch ms)
-- ARGV[1]  task id
-- ARGV[2]  attempt number that failed
-- ARGV[3]  ready time, epoch ms
-- ARGV[4]  the partition's key prefix PREFIX:{pN}: (its concurrency key, lib/concurrency)
-- ARGV[5..] field/value pairs to write (error, last attempt's timings)
-- Returns 1 when scheduled, 0 when the outcome was stale.
--@include lib/concurrency
local state = redis.call('HMGET', KEYS[1], 'status', 'attempts')
if state[1] ~= 'running' or state[2] ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
concurrency_release(ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'retry_at', ARGV[3], unpack(ARGV, 5))
return 1
