-- Puts running tasks back in their ready queues without spending an attempt: their worker
-- died or was stopped for another task's sake (a system retry, not an application one).
-- KEYS[1]  running set      PREFIX:{pN}:running
-- ARGV[1]  task key prefix  PREFIX:{pN}:task:
-- ARGV[2]  queue key prefix PREFIX:{pN}:queue:
-- ARGV[3]  '1' to mark the tasks to run alone (not packed in a chunk) from now on
-- ARGV[4]  the partition's key prefix PREFIX:{pN}: (concurrency keys, lib/concurrency)
-- ARGV[5..] pairs of (task id, attempt) to re-queue; no pairs means the whole running set
-- Returns the number re-queued.
--@include lib/concurrency
local pairs_given = #ARGV >= 5
local ids, attempts = {}, {}
if pairs_given then
  for i = 5, #ARGV, 2 do
    ids[#ids + 1] = ARGV[i]
    attempts[#attempts + 1] = ARGV[i + 1]
  end
else
  ids = redis.call('ZRANGE', KEYS[1], 0, -1)
end
local count = 0
for i, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local state = redis.call('HMGET', key, 'status', 'worker_type', 'score', 'attempts')
  if state[1] == 'running' and (not pairs_given or state[4] == attempts[i]) then
    concurrency_release(ARGV[4], id)
    redis.call('HSET', key, 'status', 'queued')
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('HINCRBY', key, 'system_retries', 1)
    if ARGV[3] == '1' then
      redis.call('HSET', key, 'solo', '1')
    end
    redis.call('ZADD', ARGV[2] .. state[2], state[3], id)
    count = count + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return count
