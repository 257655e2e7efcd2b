-- Claims a due schedule's fire: only if the schedule is still due at the time the firer
-- read and unchanged since (its version), it moves to its next fire, and the fire (if one
-- runs) is recorded among its runs and queued for submission, all at once. Two firers
-- that read the same due schedule claim it once: the second finds the due time moved.
-- KEYS[1]  schedule hash    PREFIX:{sched}:schedule:ID
-- KEYS[2]  due zset         PREFIX:{sched}:due
-- KEYS[3]  fires to submit  PREFIX:{sched}:fires
-- KEYS[4]  its runs         PREFIX:{sched}:schedule:ID:runs
-- ARGV[1]  schedule id
-- ARGV[2]  the version that was read
-- ARGV[3]  the due time that was read, epoch seconds
-- ARGV[4]  next fire, epoch seconds, or '' (no fire left)
-- ARGV[5]  the fire to submit, epoch seconds, or '' (the due fires are skipped)
-- ARGV[6]  that fire's task id
-- ARGV[7]  runs kept
-- ARGV[8]  now, epoch seconds: when the fire is first tried
-- Returns 1 when claimed, 0 when another firer or a change got there first.
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then
  return 0
end
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not due or tonumber(due) ~= tonumber(ARGV[3]) then
  return 0
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[8], ARGV[1] .. '|' .. ARGV[5])
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[5] .. '|' .. ARGV[6])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[7]) + 1))
end
redis.call('HSET', KEYS[1], 'next_fire', ARGV[4])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
