-- Deletes a schedule and its runs; fires claimed but not yet submitted are dropped by the
-- firer when it finds the schedule gone.
-- KEYS[1]  schedule hash    PREFIX:{sched}:schedule:ID
-- KEYS[2]  due zset         PREFIX:{sched}:due
-- KEYS[3]  owner's set      PREFIX:{sched}:by-owner:DIGEST
-- KEYS[4]  every schedule   PREFIX:{sched}:all
-- KEYS[5]  its runs         PREFIX:{sched}:schedule:ID:runs
-- ARGV[1]  schedule id
-- Returns 1, or 0 when there was no such schedule.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
