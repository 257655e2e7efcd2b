-- Counts ready tasks per priority level in each of the given queues (one pool's partitions),
-- with where each level's first task stands: the dispatcher splits a small claim between
-- partitions by it, so that the best fair places go first (scheduler.policy.plan_claims).
-- KEYS[1..n]  ready queues  PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]     weight of one priority level in a queue score
-- Returns n*16 numbers: queue 1's counts of levels 0..7, then the scores of their first
-- tasks less the level's base (0 where none), then queue 2's, ...
-- On Redis Cluster the caller passes one queue per call (one slot); on one node, all at once.
local weight = tonumber(ARGV[1])
local reply = {}
for _, queue in ipairs(KEYS) do
  local heads = {}
  local empty = redis.call('ZCARD', queue) == 0
  for level = 0, 7 do
    local n, head = 0, 0
    if not empty then
      local low = level * weight
      local high = '(' .. string.format('%.0f', low + weight)
      n = redis.call('ZCOUNT', queue, string.format('%.0f', low), high)
      if n > 0 then
        local first = redis.call('ZRANGE', queue, string.format('%.0f', low), high, 'BYSCORE',
          'LIMIT', 0, 1, 'WITHSCORES')
        head = tonumber(first[2]) - low
      end
    end
    reply[#reply + 1] = n
    heads[#heads + 1] = head
  end
  for _, head in ipairs(heads) do reply[#reply + 1] = head end
end
return reply
