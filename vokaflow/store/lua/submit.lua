-- Writes a task record and, unless it is held back, enqueues it at its fair place in its
-- level (a delayed task: schedules it); atomically. Refuses an id that already exists.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  where it waits:  its ready queue PREFIX:{pN}:queue:WORKER_TYPE (score = dispatch
--                           order), or for a delayed task PREFIX:{pN}:scheduled (score =
--                           run_at, epoch ms; release_due.lua moves it on)
-- KEYS[3]  its level's fair clock PREFIX:{pN}:fair:WORKER_TYPE:LEVEL (see lib/fair_score)
-- ARGV[1]  task id
-- ARGV[2]  its plain score there: level x weight + now (ms), or for a delayed task run_at
-- ARGV[3]  '1' to hold the task back (a sequential batch releases it later), '2' to enqueue
--          it at its plain score (a delayed task), '0' to enqueue it at its fair place
-- ARGV[4]  weight of one priority level in a queue score
-- ARGV[5]  the submitting principal
-- ARGV[6]  its fair-share quantum, ms
-- ARGV[7]  its level's fair window, ms (see lib/fair_score)
-- ARGV[8..] the record's field/value pairs
-- Returns the score it waits at, or 0 when the id exists.
--@include lib/fair_score
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
local score = ARGV[2]
if ARGV[3] == '0' then
  score = fair_score(KEYS[2], KEYS[3], ARGV[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
  redis.call('HSET', KEYS[1], 'score', score)
end
if ARGV[3] ~= '1' then
  redis.call('ZADD', KEYS[2], score, ARGV[1])
end
return score
