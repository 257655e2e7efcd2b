-- lib/fair_score for many tasks of one partition at once (submit.lua): each level's clock is
-- read once and each principal's end once, the tasks placed in memory, and every end
-- written back at the end. The same places as one fair_score call per task.
local function new_fair_groups(part, weight, quantum)
  local clocks, ends, touched = {}, {}, {}
  local groups = {}

  local function clock_of(queue, low, now, window)
    local at = clocks[queue .. low]
    if at == nil then
      local head = redis.call('ZRANGE', queue, low, '(' .. string.format('%.0f', low + weight),
        'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
      at = math.max(head[2] and (tonumber(head[2]) - low) or now, now - tonumber(window))
      clocks[queue .. low] = at
    end
    return at
  end

  function groups.place(waits, base, owner, window)
    local low = math.floor(tonumber(base) / weight) * weight
    local now = tonumber(base) - low
    local queue = part .. waits
    local clock = clock_of(queue, low, now, window)
    local fair = part .. 'fair:' .. string.sub(waits, 7) .. ':' .. (low / weight)
    local mine = fair .. '\0' .. owner
    local place = ends[mine]
    if place == nil then
      redis.call('ZREMRANGEBYSCORE', fair, '-inf', '(' .. string.format('%.0f', clock))
      place = math.max(clock, tonumber(redis.call('ZSCORE', fair, owner) or '0'))
      touched[#touched + 1] = {fair, owner, mine}
    end
    ends[mine] = place + quantum
    return string.format('%.0f', low + place)
  end

  function groups.write_ends()
    for _, entry in ipairs(touched) do
      redis.call('ZADD', entry[1], string.format('%.0f', ends[entry[3]]), entry[2])
    end
  end

  return groups
end
