-- Moves what is due in one partition to its ready queues: retries after their backoff, at
-- the back of their priority level, and delayed tasks at their run_at, which their record's
-- score already holds, at their owner's fair place in their level. One script per partition, so a task leaves its schedule exactly once,
-- and never before its time, however many schedulers run it at once.
-- KEYS[1]  retry schedule   PREFIX:{pN}:delayed    (zset, score = due time, epoch ms)
-- KEYS[2]  delayed tasks    PREFIX:{pN}:scheduled  (zset, score = run_at, epoch ms)
-- ARGV[1]  now, epoch ms
-- ARGV[2]  task key prefix  PREFIX:{pN}:task:
-- ARGV[3]  queue key prefix PREFIX:{pN}:queue:
-- ARGV[4]  weight of one priority level in a queue score
-- ARGV[5]  how many of each at most
-- ARGV[6]  fair clock key prefix PREFIX:{pN}:fair:  (+ WORKER_TYPE:LEVEL, see lib/fair_score)
-- ARGV[7]  the fair-share quantum, ms
-- ARGV[8..15] for levels 0..7, the level's fair window, ms (see lib/fair_score)
-- Returns {the number released, the earliest due time left in either (epoch ms) or ''}: the
-- releaser sleeps until then.
--@include lib/queue_score
--@include lib/fair_score
local function due(schedule)
  local ids = redis.call('ZRANGEBYSCORE', schedule, '-inf', ARGV[1], 'LIMIT', 0,
    tonumber(ARGV[5]))
  if #ids > 0 then
    redis.call('ZREM', schedule, unpack(ids))
  end
  return ids
end

local released = 0
for _, id in ipairs(due(KEYS[1])) do
  local key = ARGV[2] .. id
  local state = redis.call('HMGET', key, 'status', 'worker_type', 'score')
  if state[1] == 'queued' then  -- else cancelled meanwhile
    local score = queue_score(level_of_score(state[3], ARGV[4]), ARGV[4], ARGV[1])
    redis.call('HSET', key, 'score', score)
    redis.call('ZADD', ARGV[3] .. state[2], score, id)
    released = released + 1
  end
end
for _, id in ipairs(due(KEYS[2])) do
  local key = ARGV[2] .. id
  local state = redis.call('HMGET', key, 'status', 'worker_type', 'score', 'owner')
  if state[1] == 'scheduled' then
    local queue = ARGV[3] .. state[2]
    local level = level_of_score(state[3], ARGV[4])
    local ends = ARGV[6] .. state[2] .. ':' .. level
    local score = fair_score(queue, ends, state[3], ARGV[4], state[4] or '', ARGV[7],
      ARGV[8 + level])
    redis.call('HSET', key, 'status', 'queued', 'released_at', ARGV[1], 'score', score)
    redis.call('ZADD', queue, score, id)
    released = released + 1
  end
end

local next_due = nil
for _, schedule in ipairs(KEYS) do
  local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
  if head[2] and (next_due == nil or tonumber(head[2]) < next_due) then
    next_due = tonumber(head[2])
  end
end
return {released, next_due and string.format('%.0f', next_due) or ''}
