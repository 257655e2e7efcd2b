-- Counts ready tasks per priority level in each of the given queues (one pool's partitions).
-- KEYS[1..n]  ready queues  PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]     weight of one priority level in a queue score
-- Returns n*8 counts: queue 1's levels 0..7, then queue 2's, ...
-- On Redis Cluster the caller passes one queue per call (one slot); on one node, all at once.
local weight = tonumber(ARGV[1])
local counts = {}
for _, queue in ipairs(KEYS) do
  if redis.call('ZCARD', queue) == 0 then
    for _ = 1, 8 do counts[#counts + 1] = 0 end
  else
    for level = 0, 7 do
      local low = level * weight
      counts[#counts + 1] = redis.call('ZCOUNT', queue, string.format('%.0f', low),
                                       '(' .. string.format('%.0f', low + weight))
    end
  end
end
return counts
