-- A single submit in one round trip: take a token of the task's category, and only then
-- write the task, enqueue it, count the tasks ahead of it and wake the scheduler.
-- Spans slots (bucket, task, the pool's queues): a single Redis only. On a cluster, TaskStore
-- takes the token, writes (submit.lua) and counts in separate steps.
-- KEYS[1]   bucket hash      PREFIX:{rl:CATEGORY}:bucket
-- KEYS[2]   task hash        PREFIX:{pN}:task:ID
-- KEYS[3]   its ready queue  PREFIX:{pN}:queue:WORKER_TYPE, or for a delayed task its
--           partition's PREFIX:{pN}:scheduled (as submit.lua)
-- KEYS[4]   its level's fair clock PREFIX:{pN}:fair:WORKER_TYPE:LEVEL (see lib/fair_score)
-- KEYS[5..] every partition's ready queue of the pool, for the position (none for a
--           delayed task: nothing is ahead of it yet)
-- ARGV[1..3] rate, burst, usage key prefix (as token_bucket.lua)
-- ARGV[4]   task id
-- ARGV[5]   its plain score in KEYS[3], as submit.lua's ARGV[2]
-- ARGV[6]   wake-up channel
-- ARGV[7]   the pool's name, the wake-up message
-- ARGV[8]   the submitting principal's usage key prefix (as token_bucket.lua)
-- ARGV[9]   '0' to enqueue it at its fair place, '2' at its plain score (a delayed task)
-- ARGV[10]  weight of one priority level in a queue score
-- ARGV[11]  its fair-share quantum, ms
-- ARGV[12]  the submitting principal
-- ARGV[13]  its level's fair window, ms (see lib/fair_score)
-- ARGV[14]  the partition's key prefix PREFIX:{pN}: (its task indexes, lib/task_index)
-- ARGV[15]  its creation time, epoch ms
-- ARGV[16]  its function's name
-- ARGV[17..] the record's field/value pairs
-- Returns {admitted (1/0), tokens left, now, admitted this second, tasks ahead, score}, or
-- {2, ...} without taking a token when the id exists: a repeated idempotency key.
--@include lib/take_tokens
--@include lib/count_ahead
--@include lib/fair_score
--@include lib/task_index
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {2, '0', '0', 0, 0, '0'}
end
local granted, tokens, now, used = take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
  1, false, ARGV[3], ARGV[8])
if granted == 0 then
  return {0, string.format('%.6f', tokens), string.format('%.6f', now), used, 0, '0'}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 17))
local score = ARGV[5]
if ARGV[9] == '0' then
  score = fair_score(KEYS[3], KEYS[4], ARGV[5], ARGV[10], ARGV[12], ARGV[11], ARGV[13])
  redis.call('HSET', KEYS[2], 'score', score)
end
redis.call('ZADD', KEYS[3], score, ARGV[4])
ix_add(ARGV[14], ARGV[4], ARGV[15], ARGV[12], ARGV[16])
local ahead = count_ahead(5, score)
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, string.format('%.6f', tokens), string.format('%.6f', now), used, ahead, score}
