-- Zset entries gathered during one script and written with one call per key and slice: a
-- call per entry cost Redis more than the entries' own work. A slice keeps each unpack under
-- Lua's 8,000 values.
local ZSET_SLICE = 2000 -- values per call: 1,000 score/member pairs, or 2,000 members

-- redis COMMAND (ZADD, ZREM) on KEY with VALUES, a slice of them per call.
local function zset_call_sliced(command, key, values)
  for first = 1, #values, ZSET_SLICE do
    redis.call(command, key, unpack(values, first, math.min(first + ZSET_SLICE - 1, #values)))
  end
end

-- Values gathered per key for one COMMAND (ZADD: score/member pairs; ZREM: members): add()
-- them, then write() once, one call per key and slice, keys in the order first seen.
-- list(key) gives a key's flat list, for a caller that appends to it directly.
local function new_zset_group(command)
  local lists, order = {}, {}
  local group = {}

  function group.list(key)
    local list = lists[key]
    if list == nil then
      list = {}
      lists[key] = list
      order[#order + 1] = key
    end
    return list
  end

  -- add(key, score, member) for ZADD, add(key, member) for ZREM
  function group.add(key, first, second)
    local list = group.list(key)
    list[#list + 1] = first
    if second ~= nil then
      list[#list + 1] = second
    end
  end

  function group.write()
    for _, key in ipairs(order) do
      zset_call_sliced(command, key, lists[key])
    end
  end

  return group
end

local function new_zadd_group()
  return new_zset_group('ZADD')
end
