-- Give a finished task's log list its record's TTL (the retention when the record has
-- none), or delete the log of a record that is gone; in one step, as expire_finished_record.
-- KEYS[1] a task's log list, KEYS[2] its record (same slot). ARGV as expire_finished_record.
-- Returns 2: orphan deleted, 1: expires, 0: left alone.
if redis.call('PTTL', KEYS[1]) ~= -1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  if ARGV[2] ~= '1' then redis.call('DEL', KEYS[1]) end
  return 2
end
local status = redis.call('HGET', KEYS[2], 'status')
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 then ttl = tonumber(ARGV[1]) end
if ttl <= 0 then return 0 end
for i = 3, #ARGV do
  if status == ARGV[i] then
    if ARGV[2] ~= '1' then redis.call('PEXPIRE', KEYS[1], ttl) end
    return 1
  end
end
return 0
