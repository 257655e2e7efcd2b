-- Queues a waiting child whose parents have all ended, at its fair place in its level; its
-- queue wait counts from now.
-- KEYS[1]  child hash       PREFIX:{pN}:task:CHILD
-- KEYS[2]  its ended parents PREFIX:{pN}:deps-done:CHILD
-- KEYS[3]  waiting index    PREFIX:{pN}:waiting
-- ARGV[1]  child id
-- ARGV[2]  now, epoch ms
-- ARGV[3]  the partition's key prefix PREFIX:{pN}:
-- ARGV[4]  weight of one priority level in a queue score
-- ARGV[5]  the fair-share quantum, ms
-- ARGV[6..13] for levels 0..7, the level's fair window, ms (see lib/fair_score)
-- Returns 1 when queued, 0 when the child no longer waits (cancelled meanwhile).
--@include lib/queue_score
--@include lib/fair_score
local state = redis.call('HMGET', KEYS[1], 'status', 'worker_type', 'score', 'spec')
if state[1] ~= 'waiting' then
  return 0
end
local level = level_of_score(state[3], ARGV[4])
local queue = ARGV[3] .. 'queue:' .. state[2]
local ends = ARGV[3] .. 'fair:' .. state[2] .. ':' .. level
local owner = cjson.decode(state[4])['owner'] or ''
local score = fair_score(queue, ends, queue_score(level, ARGV[4], ARGV[2]), ARGV[4], owner,
  ARGV[5], ARGV[6 + level])
redis.call('HSET', KEYS[1], 'status', 'queued', 'score', score, 'requeued_at', ARGV[2])
redis.call('ZADD', queue, score, ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
