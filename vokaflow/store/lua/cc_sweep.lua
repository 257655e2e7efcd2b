-- Per-key concurrency's safety net, run by the scheduler's housekeeping for each partition:
-- for each key with waiting tasks, forget running ids whose task no longer runs (a release
-- that never came, such as a task record that expired), then move waiting tasks back to
-- their queues while the key has room. See lib/concurrency.
-- ARGV[1]  the partition's key prefix PREFIX:{pN}:
-- Returns the number of waiting tasks moved back.
--@include lib/concurrency
local part = ARGV[1]
local moved = 0
for _, name in ipairs(redis.call('SMEMBERS', part .. 'cc:waiting')) do
  local running = part .. 'cc:' .. name .. ':running'
  for _, id in ipairs(redis.call('SMEMBERS', running)) do
    if redis.call('HGET', part .. 'task:' .. id, 'status') ~= 'running' then
      redis.call('SREM', running, id)
    end
  end
  local head = redis.call('ZRANGE', part .. 'cc:' .. name .. ':waiting', 0, 0)
  local limit = 0
  if head[1] then
    limit = tonumber(redis.call('HGET', part .. 'task:' .. head[1], 'max_concurrency') or '1')
  end
  local room = limit - redis.call('SCARD', running)
  while room > 0 and concurrency_unpark(part, name) do
    room = room - 1
    moved = moved + 1
  end
  if not head[1] then
    redis.call('SREM', part .. 'cc:waiting', name)
  end
end
return moved
