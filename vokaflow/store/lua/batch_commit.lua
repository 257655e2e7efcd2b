-- Marks a batch whose tasks are all written as running, once.
-- KEYS[1]  batch hash       PREFIX:{b:ID}:batch
-- Returns 1 when this call moved it from 'submitting' to 'running', else 0.
if redis.call('HGET', KEYS[1], 'status') ~= 'submitting' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'running')
return 1
