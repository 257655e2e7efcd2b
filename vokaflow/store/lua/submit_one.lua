-- A single submit in one round trip: take a token of the task's category, and only then
-- write the task, enqueue it, count the tasks ahead of it and wake the scheduler.
-- Spans slots (bucket, task, the pool's queues): a single Redis only. On a cluster, TaskStore
-- takes the token, writes (submit.lua) and counts in separate steps.
-- KEYS[1]   bucket hash      PREFIX:{rl:CATEGORY}:bucket
-- KEYS[2]   task hash        PREFIX:{pN}:task:ID
-- KEYS[3]   its ready queue  PREFIX:{pN}:queue:WORKER_TYPE, or for a delayed task its
--           partition's PREFIX:{pN}:scheduled (as submit.lua)
-- KEYS[4..] every partition's ready queue of the pool, for the position (none for a
--           delayed task: nothing is ahead of it yet)
-- ARGV[1..3] rate, burst, usage key prefix (as token_bucket.lua)
-- ARGV[4]   task id
-- ARGV[5]   its score in KEYS[3]
-- ARGV[6]   wake-up channel
-- ARGV[7]   the pool's name, the wake-up message
-- ARGV[8]   the submitting principal's usage key prefix (as token_bucket.lua)
-- ARGV[9..] the record's field/value pairs
-- Returns {admitted (1/0), tokens left, now, admitted this second, tasks ahead}, or
-- {2, ...} without taking a token when the id exists: a repeated idempotency key.
--@include lib/take_tokens
--@include lib/count_ahead
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {2, '0', '0', 0, 0}
end
local granted, tokens, now, used = take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
  1, false, ARGV[3], ARGV[8])
if granted == 0 then
  return {0, string.format('%.6f', tokens), string.format('%.6f', now), used, 0}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 9))
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
local ahead = count_ahead(4, ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, string.format('%.6f', tokens), string.format('%.6f', now), used, ahead}
