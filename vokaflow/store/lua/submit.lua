-- Writes a task record and, unless it is held back, enqueues it (a delayed task: schedules
-- it); atomically. Refuses an id that already exists.
-- KEYS[1]  task hash        PREFIX:{pN}:task:ID
-- KEYS[2]  where it waits:  its ready queue PREFIX:{pN}:queue:WORKER_TYPE (score = dispatch
--                           order), or for a delayed task PREFIX:{pN}:scheduled (score =
--                           run_at, epoch ms; release_due.lua moves it on)
-- ARGV[1]  task id
-- ARGV[2]  its score there
-- ARGV[3]  '1' to hold the task back (a sequential batch releases it later), else '0'
-- ARGV[4..] the record's field/value pairs
-- Returns 1 when written, 0 when the id exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[3] ~= '1' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
return 1
