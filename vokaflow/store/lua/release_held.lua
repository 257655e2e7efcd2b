-- Releases a held task of a batch into its ready queue, at the back of its priority level;
-- a delayed one not yet due goes to its partition's schedule instead.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  delayed tasks    PREFIX:{pN}:scheduled (zset, score = run_at, epoch ms)
-- ARGV[1]  task id
-- ARGV[2]  queue key prefix PREFIX:{pN}:queue:   (+ the task's worker type, same slot)
-- ARGV[3]  now, epoch ms
-- ARGV[4]  weight of one priority level in a queue score
-- Returns 1 when released, 0 when the task is no longer waiting (cancelled meanwhile).
--@include lib/queue_score
local state = redis.call('HMGET', KEYS[1], 'status', 'worker_type', 'score')
local level = level_of_score(state[3] or '0', ARGV[4])
if state[1] == 'scheduled' then
  local due = tonumber(state[3]) - level * tonumber(ARGV[4])
  if due > tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[2], string.format('%.0f', due), ARGV[1])
    return 1
  end
  redis.call('HSET', KEYS[1], 'status', 'queued')
elseif state[1] ~= 'queued' then
  return 0
end
local score = queue_score(level, ARGV[4], ARGV[3])
redis.call('HSET', KEYS[1], 'score', score)
redis.call('ZADD', ARGV[2] .. state[2], score, ARGV[1])
return 1
