-- Fair share within a priority level (start-time fair queuing): a principal's new ready task
-- is placed at the later of the level's fair clock and the end of that principal's own tasks
-- already queued, which then moves on by one quantum. The clock is the level's head in this
-- queue (what is served now), or now when the level is empty, but never more than a window
-- before now (domain.priority.fair_window_ms: the starvation rule reads waits off scores).
-- A principal with 50,000 tasks queued spreads them over 50,000 quanta of the clock; another
-- one's first task lands next to the head. Strict order between levels stays: the score is
-- still level x weight + a time in ms.
-- queue   the ready queue           PREFIX:{pN}:queue:WORKER_TYPE
-- ends    the level's fair clock    PREFIX:{pN}:fair:WORKER_TYPE:LEVEL (zset: principal ->
--         where its queued tasks end); entries behind the clock say nothing and are dropped
-- base    the plain score, level x weight + now (ms)
-- window  fair_window_ms of the level
-- Returns the task's score, a whole number string.
local function fair_score(queue, ends, base, weight, principal, quantum, window)
  weight = tonumber(weight)
  local low = math.floor(tonumber(base) / weight) * weight
  local now = tonumber(base) - low
  local head = redis.call('ZRANGE', queue, low, '(' .. string.format('%.0f', low + weight),
    'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
  local clock = head[2] and (tonumber(head[2]) - low) or now
  clock = math.max(clock, now - tonumber(window))
  redis.call('ZREMRANGEBYSCORE', ends, '-inf', '(' .. string.format('%.0f', clock))
  local place = math.max(clock, tonumber(redis.call('ZSCORE', ends, principal) or '0'))
  redis.call('ZADD', ends, string.format('%.0f', place + tonumber(quantum)), principal)
  return string.format('%.0f', low + place)
end
