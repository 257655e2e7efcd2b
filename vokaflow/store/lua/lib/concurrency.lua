-- Per-key concurrency (a task's concurrency_key and max_concurrency): at most that many tasks
-- of one key run at once, cluster-wide. Every task of a key lives in one partition (see
-- store.keys.Keys.id_in_partition), so the key's state is in that partition's slot:
--   PART cc:NAME:running  set of its running task ids
--   PART cc:NAME:waiting  zset of its tasks that reached the front of their queue while the
--                         key was full, by queue score: they go back to that same place
--   PART cc:waiting       set of the NAMEs with waiting tasks, for cc_sweep.lua
-- PART is the partition's key prefix PREFIX:{pN}: and NAME the record's 'concurrency' field
-- (the owner's key, hashed: one tenant's key is never another's).

-- Whether a claimed task (its record at task_key) may run now; if not, it waits in its
-- key's waiting set.
local function concurrency_admits(part, name, task_key, id)
  local running = part .. 'cc:' .. name .. ':running'
  local cap = redis.call('HMGET', task_key, 'max_concurrency', 'score')
  if redis.call('SCARD', running) >= tonumber(cap[1]) then
    redis.call('ZADD', part .. 'cc:' .. name .. ':waiting', cap[2], id)
    redis.call('SADD', part .. 'cc:waiting', name)
    return false
  end
  redis.call('SADD', running, id)
  return true
end

-- Moves a key's best waiting task back to its ready queue at its own score; false if none.
local function concurrency_unpark(part, name)
  local waiting = part .. 'cc:' .. name .. ':waiting'
  while true do
    local head = redis.call('ZPOPMIN', waiting)
    if not head[1] then
      redis.call('SREM', part .. 'cc:waiting', name)
      return false
    end
    local state = redis.call('HMGET', part .. 'task:' .. head[1], 'status', 'worker_type')
    if state[1] == 'queued' then
      redis.call('ZADD', part .. 'queue:' .. state[2], head[2], head[1])
      return true
    end
  end
end

-- A task of concurrency key NAME (false: none) leaves the running state: its key's slot goes
-- to the key's best waiting task.
local function concurrency_release_of(part, id, name)
  if name and redis.call('SREM', part .. 'cc:' .. name .. ':running', id) == 1 then
    concurrency_unpark(part, name)
  end
end

-- concurrency_release_of, the key read from the task's record.
local function concurrency_release(part, id)
  concurrency_release_of(part, id, redis.call('HGET', part .. 'task:' .. id, 'concurrency'))
end

-- A waiting task ends before it ran (cancelled): it leaves its key's waiting set.
local function concurrency_forget(part, id)
  local name = redis.call('HGET', part .. 'task:' .. id, 'concurrency')
  if name then
    redis.call('ZREM', part .. 'cc:' .. name .. ':waiting', id)
  end
end
