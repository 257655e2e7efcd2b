-- Records the outcomes of one partition's tasks, each once: only a running task of the same
-- attempt is finished, so a task cancelled or re-queued meanwhile keeps the state it has. A
-- finished record expires after the retention period; a failure after all retries is also
-- listed as a dead letter. Each task moves to its status's task indexes (lib/task_index).
-- KEYS[1]  running set      PREFIX:{pN}:running
-- KEYS[2]  dead letters     PREFIX:{pN}:dead   (zset, score = when it failed, epoch ms);
--          the owner's own beside it (lib/owner_dead_letters), kept as long as the records
-- ARGV[1]  retention, ms (0 keeps the record)
-- ARGV[2]  now, epoch ms
-- ARGV[3]  the partition's key prefix PREFIX:{pN}: (its records PREFIX:{pN}:task:ID, its
--          concurrency keys, lib/concurrency; its task indexes, lib/task_index)
-- ARGV[4..] per task: id, attempt number the outcome belongs to, '1' to list it as a dead
--          letter, its final status, N, then N values: field/value pairs to write (status,
--          result, error, timings)
-- Returns, per task in order: 1 when written, 2 when written and the task has waiting
-- children (their dependencies, lifecycle.dependencies), 0 when the outcome was stale.
--@include lib/owner_dead_letters
--@include lib/concurrency
--@include lib/zset_batch
--@include lib/task_index
-- One call for many tasks, and their running-set and index entries moved with one call per
-- key and slice: a script call per task cost Redis more than the outcome's own writes.
local part, retention = ARGV[3], tonumber(ARGV[1])
local replies, ended = {}, {}
local indexes = ix_end_group(part)

local function finish(first, values)
  local id, status = ARGV[first], ARGV[first + 3]
  local key = part .. 'task:' .. id
  local state = redis.call('HMGET', key, 'status', 'attempts', 'concurrency', 'owner')
  if state[1] ~= 'running' or state[2] ~= ARGV[first + 1] then
    return 0
  end
  ended[#ended + 1] = id
  concurrency_release_of(part, id, state[3])
  redis.call('HSET', key, unpack(ARGV, first + 5, first + 4 + values))
  indexes.end_of(id, state[4] or ix_owner_of(key), status)
  if retention > 0 then
    redis.call('PEXPIRE', key, retention)
  end
  if ARGV[first + 2] == '1' then
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    local own = owner_dead_letters(KEYS[2], key)
    redis.call('ZADD', own, ARGV[2], id)
    if retention > 0 then
      redis.call('PEXPIRE', own, retention)
    end
  end
  return 1 + redis.call('EXISTS', part .. 'children:' .. id)
end

local first = 4
while first <= #ARGV do
  local values = tonumber(ARGV[first + 4])
  replies[#replies + 1] = finish(first, values)
  first = first + 5 + values
end
zset_call_sliced('ZREM', KEYS[1], ended)
indexes.write()
return replies
