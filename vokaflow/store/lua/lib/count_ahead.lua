-- Sums, over KEYS[first..], the ready tasks dispatched before a task with this score.
local function count_ahead(first, score)
  local ahead = 0
  for i = first, #KEYS do
    ahead = ahead + redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. score)
  end
  return ahead
end
