-- The task search indexes of one partition (store/task_index.py reads them; the key names
-- are store.keys.Keys.index_*): zsets scored by the task's creation time in ms, in the
-- partition's slot, so that the script that creates or ends a task keeps them in that step.
--   PART ix:all               every task, member 'OWNER:FUNCTION:ID' (16-hex digests): the
--                             ledger, naming each other index a task is in (the trim)
--   PART ix:live              tasks not finished; PART ix:s:STATUS the finished, by status
--   PART ix:o:OWNER           one principal's tasks; beside it :live and :s:STATUS
-- PART is the partition's key prefix PREFIX:{pN}:. Entries written by earlier versions may
-- also be in :f:FUNCTION beside an owner's index; the trim drops them.
--@include lib/zset_batch
local ix_finished = {'completed', 'failed', 'cancelled', 'timeout', 'upstream_failed'}

-- store.keys.index_digest
local function ix_digest(name)
  return string.sub(redis.sha1hex(name), 1, 16)
end

-- The record's principal: its owner field, or, in a record written before every record had
-- one, its spec's. A spec that does not decode names no one: an error here would stop every
-- other task of the call (finish.lua ends a partition's tasks in one).
local function ix_owner_of(task_key)
  local owner = redis.call('HGET', task_key, 'owner')
  if owner then
    return owner
  end
  local decoded, fields = pcall(cjson.decode, redis.call('HGET', task_key, 'spec') or '')
  local from_spec = decoded and type(fields) == 'table' and fields['owner']
  return type(from_spec) == 'string' and from_spec or ''
end

-- A new task, created at epoch ms CREATED (a whole number string).
local function ix_add(part, id, created, owner, function_name)
  local od, fd = ix_digest(owner), ix_digest(function_name)
  local own = part .. 'ix:o:' .. od
  redis.call('ZADD', part .. 'ix:all', created, od .. ':' .. fd .. ':' .. id)
  redis.call('ZADD', part .. 'ix:live', created, id)
  redis.call('ZADD', own, created, id)
  redis.call('ZADD', own .. ':live', created, id)
end

-- ix_add for the many new tasks of one call (submit.lua): the entries gathered per index,
-- each principal's and function's keys built once, then one ZADD per index and slice
-- (lib/zset_batch). The same entries as one ix_add per task, for far fewer calls.
local function ix_new_group(part)
  local lists = new_zadd_group()
  local targets = {}
  local group = {}

  -- The lists a task of this principal and function goes in, and its ledger member's start.
  local function target(owner, function_name)
    local name = owner .. '\0' .. function_name
    local found = targets[name]
    if found == nil then
      local od, fd = ix_digest(owner), ix_digest(function_name)
      local own = part .. 'ix:o:' .. od
      found = {
        od .. ':' .. fd .. ':',
        lists.list(part .. 'ix:all'),
        lists.list(part .. 'ix:live'),
        lists.list(own),
        lists.list(own .. ':live'),
      }
      targets[name] = found
    end
    return found
  end

  function group.add(id, created, owner, function_name)
    local to = target(owner, function_name)
    local ledger = to[2]
    ledger[#ledger + 1] = created
    ledger[#ledger + 1] = to[1] .. id
    for k = 3, 5 do
      local list = to[k]
      list[#list + 1] = created
      list[#list + 1] = id
    end
  end

  group.write = lists.write
  return group
end

-- A task of OWNER ended with STATUS: from the live indexes to that status's. A record from
-- before the indexes has no entry and stays out: the backfill indexes it as it is then.
local function ix_end_of(part, id, owner, status)
  local own = part .. 'ix:o:' .. ix_digest(owner)
  local created = redis.call('ZSCORE', own, id)
  if not created then
    return
  end
  redis.call('ZREM', part .. 'ix:live', id)
  redis.call('ZREM', own .. ':live', id)
  redis.call('ZADD', part .. 'ix:s:' .. status, created, id)
  redis.call('ZADD', own .. ':s:' .. status, created, id)
end

-- ix_end_of for the many tasks one call ends (finish.lua): end(id, owner, status) for each,
-- then write(): the live entries removed and the status entries added with one call per key
-- and slice (lib/zset_batch), each owner's digest taken once.
local function ix_end_group(part)
  local added = new_zadd_group()
  local removed = new_zset_group('ZREM')
  local owners = {}
  local group = {}

  function group.end_of(id, owner, status)
    local own = owners[owner]
    if own == nil then
      own = part .. 'ix:o:' .. ix_digest(owner)
      owners[owner] = own
    end
    local created = redis.call('ZSCORE', own, id)
    if not created then
      return
    end
    removed.add(part .. 'ix:live', id)
    removed.add(own .. ':live', id)
    added.add(part .. 'ix:s:' .. status, created, id)
    added.add(own .. ':s:' .. status, created, id)
  end

  function group.write()
    removed.write()
    added.write()
  end

  return group
end

-- ix_end_of, the owner read from the task's record.
local function ix_end(part, id, task_key, status)
  ix_end_of(part, id, ix_owner_of(task_key), status)
end

-- A finished task of STATUS runs again (a dead letter sent back): back to the live indexes.
local function ix_revive(part, id, task_key, status)
  local own = part .. 'ix:o:' .. ix_digest(ix_owner_of(task_key))
  local created = redis.call('ZSCORE', own, id)
  if not created then
    return
  end
  redis.call('ZREM', part .. 'ix:s:' .. status, id)
  redis.call('ZREM', own .. ':s:' .. status, id)
  redis.call('ZADD', part .. 'ix:live', created, id)
  redis.call('ZADD', own .. ':live', created, id)
end

-- The task id in a ledger member.
local function ix_ledger_id(entry)
  return string.sub(entry, 35)
end

-- Every entry of the task a ledger member names (its record is gone), those in the index
-- earlier versions kept too (:f:FUNCTION).
local function ix_drop(part, entry)
  local od, fd, id = string.sub(entry, 1, 16), string.sub(entry, 18, 33), ix_ledger_id(entry)
  local own = part .. 'ix:o:' .. od
  redis.call('ZREM', part .. 'ix:all', entry)
  for _, key in ipairs({part .. 'ix:live', own, own .. ':live', own .. ':f:' .. fd}) do
    redis.call('ZREM', key, id)
  end
  for _, status in ipairs(ix_finished) do
    redis.call('ZREM', part .. 'ix:s:' .. status, id)
    redis.call('ZREM', own .. ':s:' .. status, id)
  end
end
