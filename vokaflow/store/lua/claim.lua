-- Moves the best-ordered ready tasks of one partition's queue to its running set.
-- KEYS[1]  ready queue      PREFIX:{pN}:queue:WORKER_TYPE
-- KEYS[2]  running set      PREFIX:{pN}:running   (zset, score = dispatch time, epoch s)
-- ARGV[1]  highest score to take (inclusive)
-- ARGV[2]  how many at most
-- ARGV[3]  dispatch time, epoch seconds
-- ARGV[4]  task key prefix  PREFIX:{pN}:task:   (the records share the partition's slot)
-- ARGV[5]  the partition's key prefix PREFIX:{pN}: (a concurrency key's state, see
--          lib/concurrency: a task whose key is full waits there instead, keeping its place)
-- Returns, per claimed task:
--   {id, spec (JSON), attempts, score, batch_id, solo, system_retries, requeued_at}
--@include lib/concurrency
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[4] .. id
  local state = redis.call('HMGET', key, 'status', 'concurrency')
  if state[1] == 'queued' and (not state[2] or concurrency_admits(ARGV[5], state[2], key, id)) then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    local attempts = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'status', 'running', 'started_at', ARGV[3], 'dispatched_at', ARGV[3])
    local f = redis.call('HMGET', key, 'spec', 'score', 'batch_id', 'solo', 'system_retries',
      'requeued_at')
    claimed[#claimed + 1] = {id, f[1], attempts, f[2], f[3] or '', f[4] or '', f[5] or '0',
      f[6] or ''}
  end
end
return claimed
