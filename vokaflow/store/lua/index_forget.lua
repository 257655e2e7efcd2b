-- Drops the entries a search met whose task record is gone (expired): checked here, so a
-- record created again meanwhile (its id reused) keeps its entry. From the ledger
-- (ix:all) an entry goes from every index it names; from another index, from that one only
-- (the trim, index_trim.lua, finds the others through the ledger).
-- KEYS[1]  the index the search read (lib/task_index)
-- ARGV[1]  the partition's key prefix PREFIX:{pN}:
-- ARGV[2]  '1' when KEYS[1] is the ledger
-- ARGV[3..] the members to check
-- Returns how many were dropped.
--@include lib/task_index
local part, ledger = ARGV[1], ARGV[2] == '1'
local dropped = 0
for i = 3, #ARGV do
  local member = ARGV[i]
  local id = ledger and ix_ledger_id(member) or member
  if redis.call('EXISTS', part .. 'task:' .. id) == 0 then
    if ledger then
      ix_drop(part, member)
    else
      redis.call('ZREM', KEYS[1], member)
    end
    dropped = dropped + 1
  end
end
return dropped
