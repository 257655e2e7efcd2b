-- Give a finished task record its retention TTL, if it has none. Checks and acts in one
-- step: the scheduler may requeue or finish the task in between otherwise, and a queued
-- record given a TTL would vanish with its task.
-- KEYS[1] the record. ARGV[1] retention ms, ARGV[2] '1' for a dry run, ARGV[3..] the
-- finished statuses. Returns 1 when the record (would) get the TTL.
if redis.call('PTTL', KEYS[1]) ~= -1 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
for i = 3, #ARGV do
  if status == ARGV[i] then
    if ARGV[2] ~= '1' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    return 1
  end
end
return 0
