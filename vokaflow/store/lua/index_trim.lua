-- One bounded step of the task indexes' trim in one partition: the ledger's entries created
-- before a cutoff (no record younger than the retention can have expired), from a rank on,
-- and for each whose record is gone, every entry of that task (lib/task_index).
-- KEYS[1]  the partition's ledger PREFIX:{pN}:ix:all
-- ARGV[1]  the partition's key prefix PREFIX:{pN}:
-- ARGV[2]  the cutoff, epoch ms: entries created before it are looked at
-- ARGV[3]  how many of those to pass over first (they were there at the last step)
-- ARGV[4]  how many to look at, at most
-- Returns {how many were looked at, how many were dropped}.
--@include lib/task_index
local part = ARGV[1]
local entries = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[2], 'BYSCORE', 'LIMIT',
  tonumber(ARGV[3]), tonumber(ARGV[4]))
local dropped = 0
for _, entry in ipairs(entries) do
  if redis.call('EXISTS', part .. 'task:' .. ix_ledger_id(entry)) == 0 then
    ix_drop(part, entry)
    dropped = dropped + 1
  end
end
return {#entries, dropped}
