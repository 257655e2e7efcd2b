-- Writes the new tasks of one partition and, unless held back, enqueues each: a ready one at
-- its fair place in its level (lib/fair_score), a delayed one on the schedule, a waiting one
-- on the waiting index; atomically, in one call for any number of them, with its entries in
-- the task indexes (lib/task_index). An id that already exists is left as it is (a
-- repeated idempotency key).
-- KEYS[1]  the partition's running set PREFIX:{pN}:running (names the partition's slot: every
--          key written is in it, built from ARGV[1])
-- ARGV[1]  the partition's key prefix PREFIX:{pN}:
-- ARGV[2]  weight of one priority level in a queue score
-- ARGV[3]  the fair-share quantum, ms
-- ARGV[4]  how many tasks follow; then for each:
--          id, plain score (level x weight + now ms, or the due or check time in ms),
--          mode ('0' ready: at its fair place, '1' held: not enqueued, '2' at its plain
--          score), principal, its level's fair window (ms), where it waits (a key suffix:
--          'queue:WORKER_TYPE', 'scheduled' or 'waiting'), creation time (epoch ms),
--          function name, how many field/value items, items
-- Returns each task's score where it waits, '0' for an id that existed.
--@include lib/zset_batch
--@include lib/fair_score_group
--@include lib/task_index
local part, weight, quantum = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local groups = new_fair_groups(part, weight, quantum)
local indexed = ix_new_group(part)
local scores = {}
-- where each task waits, written at the end (lib/zset_batch): the fair places read each
-- queue's head once per call, so writing them then places every task the same
local waiting = new_zadd_group()
local i = 5
for t = 1, tonumber(ARGV[4]) do
  local id, base, mode, owner = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local window, waits, created = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local function_name, items = ARGV[i + 7], tonumber(ARGV[i + 8])
  local first = i + 9
  i = first + items
  local key = part .. 'task:' .. id
  if redis.call('EXISTS', key) == 1 then
    scores[t] = '0'
  else
    local score = base
    if mode == '0' then
      score = groups.place(waits, base, owner, window)
      for f = first, first + items - 2, 2 do
        if ARGV[f] == 'score' then
          ARGV[f + 1] = score
        end
      end
    end
    redis.call('HSET', key, unpack(ARGV, first, first + items - 1))
    if mode ~= '1' then
      waiting.add(part .. waits, score, id)
    end
    indexed.add(id, created, owner, function_name)
    scores[t] = score
  end
end
waiting.write()
groups.write_ends()
indexed.write()
return scores
