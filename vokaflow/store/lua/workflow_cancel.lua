-- Marks a workflow cancelled, if its record still exists (one that expired meanwhile is not
-- brought back as a record without an owner).
-- KEYS[1]  workflow hash    PREFIX:workflow:ID
-- Returns 1 when marked, 0 when there is no record.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'cancelled', '1')
return 1
