-- Counts one partition's ready tasks of a pool per priority level.
-- KEYS[1]  ready queue      PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]  weight of one priority level in a queue score
-- Returns 8 counts, levels 0..7.
local counts = {0, 0, 0, 0, 0, 0, 0, 0}
if redis.call('ZCARD', KEYS[1]) == 0 then
  return counts
end
local weight = tonumber(ARGV[1])
for level = 0, 7 do
  local low = level * weight
  counts[level + 1] = redis.call('ZCOUNT', KEYS[1], string.format('%.0f', low),
                                 '(' .. string.format('%.0f', low + weight))
end
return counts
