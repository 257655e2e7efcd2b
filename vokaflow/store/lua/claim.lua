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
--@include lib/zset_batch
-- One read and one write of each record, and the claim's queue and running-set entries moved
-- with one call each per slice (lib/zset_batch): a call per task and step cost Redis more
-- than the claim's own work.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed, running = {}, {}
for _, id in ipairs(ids) do
  local key = ARGV[4] .. id
  local f = redis.call('HMGET', key, 'status', 'concurrency', 'attempts', 'spec', 'score',
    'batch_id', 'solo', 'system_retries', 'requeued_at')
  if f[1] == 'queued' and (not f[2] or concurrency_admits(ARGV[5], f[2], key, id)) then
    local attempts = (tonumber(f[3]) or 0) + 1
    redis.call('HSET', key, 'status', 'running', 'attempts', attempts, 'started_at', ARGV[3],
      'dispatched_at', ARGV[3])
    running[#running + 1] = ARGV[3]
    running[#running + 1] = id
    claimed[#claimed + 1] = {id, f[4], attempts, f[5], f[6] or '', f[7] or '', f[8] or '0',
      f[9] or ''}
  end
end
zset_call_sliced('ZREM', KEYS[1], ids)
zset_call_sliced('ZADD', KEYS[2], running)
return claimed
