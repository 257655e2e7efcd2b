-- The dispatch order of a ready task, as scheduler records.queue_score: its level times the
-- level weight, plus its enqueue time in ms. Returned as a whole number string for ZADD/HSET.
local function queue_score(level, weight, now_ms)
  return string.format('%.0f', tonumber(level) * tonumber(weight) + tonumber(now_ms))
end

-- The priority level a score stands for: the record's score field is the priority's one
-- stored truth (domain.priority.level_of_score).
local function level_of_score(score, weight)
  return math.floor(tonumber(score) / tonumber(weight))
end
