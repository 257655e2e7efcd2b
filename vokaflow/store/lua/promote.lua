-- Anti-starvation: a task that has waited more than FACTOR x its level's SLA moves up one
-- level, to the back of that level, and waits again before any further move. Nothing is
-- promoted above TOP_LEVEL. See docs/decisions.md; scheduler/policy.py holds the same rule.
-- KEYS[1]  ready queue      PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]  now, epoch ms
-- ARGV[2]  weight of one priority level in a queue score
-- ARGV[3]  TOP_LEVEL: the highest level a promotion reaches
-- ARGV[4]  task key prefix  PREFIX:{pN}:task:
-- ARGV[5]  how many at most per level
-- ARGV[6..] for levels 0..7, the wait in ms after which a task of that level is promoted
-- Returns the number promoted.
--@include lib/queue_score
local now, weight, top = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local promoted = 0
for level = top + 1, 7 do
  local cutoff = now - tonumber(ARGV[6 + level])
  local low = level * weight
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], low, low + cutoff, 'LIMIT', 0, tonumber(ARGV[5]))
  for _, id in ipairs(ids) do
    local score = queue_score(level - 1, weight, now)
    redis.call('ZADD', KEYS[1], score, id)
    redis.call('HSET', ARGV[4] .. id, 'score', score)
    redis.call('HINCRBY', ARGV[4] .. id, 'promotions', 1)
    promoted = promoted + 1
  end
end
return promoted
