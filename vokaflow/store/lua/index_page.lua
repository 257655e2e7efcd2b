-- One partition's part of a task search page (store/task_index.py): the entries of a task
-- index after a position, in creation order. Entries of one ms (a batch's tasks share
-- theirs) sort by member; the position's place among them is found by binary search on
-- ranks, so a page never reads the whole run of them again.
-- KEYS[1]  the index zset (lib/task_index)
-- ARGV[1]  the position's score, or '' to start at the newest (oldest) entry
-- ARGV[2]  the position's member (need not be in the zset any more)
-- ARGV[3]  '1' newest first, '0' oldest first
-- ARGV[4]  how many at most
-- Returns member, score, member, score... in the order asked.
local key, n, newest_first = KEYS[1], tonumber(ARGV[4]), ARGV[3] == '1'
if ARGV[1] == '' then
  if newest_first then
    return redis.call('ZRANGE', key, 0, n - 1, 'REV', 'WITHSCORES')
  end
  return redis.call('ZRANGE', key, 0, n - 1, 'WITHSCORES')
end

-- Byte order, as the zset orders members (Lua's '<' follows the server's locale).
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

local score, member = ARGV[1], ARGV[2]
local below = redis.call('ZCOUNT', key, '-inf', '(' .. score)
local lo, hi = 0, redis.call('ZCOUNT', key, score, score)
while lo < hi do  -- lo ends as the number of the score's members ordered before member
  local mid = math.floor((lo + hi) / 2)
  if before(redis.call('ZRANGE', key, below + mid, below + mid)[1], member) then
    lo = mid + 1
  else
    hi = mid
  end
end
local split = below + lo  -- ascending rank of the first entry not before the position
if newest_first then
  if split == 0 then
    return {}
  end
  local got = redis.call('ZRANGE', key, math.max(0, split - n), split - 1, 'WITHSCORES')
  local out = {}
  for i = #got - 1, 1, -2 do
    out[#out + 1] = got[i]
    out[#out + 1] = got[i + 1]
  end
  return out
end
if redis.call('ZRANGE', key, split, split)[1] == member then
  split = split + 1
end
return redis.call('ZRANGE', key, split, split + n - 1, 'WITHSCORES')
