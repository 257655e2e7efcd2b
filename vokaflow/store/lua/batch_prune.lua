-- An interrupted submission's batch keeps only the tasks that were written: the others
-- leave its task and held lists, and its total and errors say so.
-- KEYS[1]  batch hash, KEYS[2] task ids list, KEYS[3] held ids list
-- ARGV[1]  the errors as JSON, with the missing tasks added
-- ARGV[2..] the ids of the tasks that were never written
-- Returns the new total.
for i = 2, #ARGV do
  redis.call('LREM', KEYS[2], 0, ARGV[i])
  redis.call('LREM', KEYS[3], 0, ARGV[i])
end
local total = redis.call('LLEN', KEYS[2])
local released = total - redis.call('LLEN', KEYS[3])
redis.call('HSET', KEYS[1], 'total', total, 'released', released, 'errors', ARGV[1])
return total
