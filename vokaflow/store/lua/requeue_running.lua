-- Puts every task of one partition's running set back in its ready queue. A scheduler runs
-- it when it starts: the previous one's in-flight work is gone with it (at-least-once).
-- KEYS[1]  running set      PREFIX:{pN}:running
-- ARGV[1]  task key prefix  PREFIX:{pN}:task:
-- ARGV[2]  queue key prefix PREFIX:{pN}:queue:
-- Returns the number of tasks re-queued.
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local count = 0
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local state = redis.call('HMGET', key, 'status', 'worker_type', 'score')
  if state[1] == 'running' then
    redis.call('HSET', key, 'status', 'queued')
    redis.call('ZADD', ARGV[2] .. state[2], state[3], id)
    count = count + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return count
