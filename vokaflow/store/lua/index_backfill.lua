-- Indexes records written before the task indexes (lib/task_index), as each is now: a
-- finished one in its status's indexes too. One that has its entries is left as it is.
-- KEYS[1]  the partition's ledger PREFIX:{pN}:ix:all (names the slot)
-- ARGV[1]  the partition's key prefix PREFIX:{pN}:
-- ARGV[2..] task ids of the partition
-- Returns how many were indexed.
--@include lib/task_index
local part = ARGV[1]
local indexed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = part .. 'task:' .. id
  local state = redis.call('HMGET', key, 'spec', 'status')
  local ok, spec = pcall(cjson.decode, state[1] or '')
  if ok and type(spec) == 'table' then
    local owner = type(spec['owner']) == 'string' and spec['owner'] or ''
    local own = part .. 'ix:o:' .. ix_digest(owner)
    if not redis.call('ZSCORE', own, id) then
      local created = string.format('%.0f', math.floor((tonumber(spec['created_at']) or 0) * 1000))
      ix_add(part, id, created, owner, tostring(spec['function_name'] or ''))
      for _, status in ipairs(ix_finished) do
        if state[2] == status then
          ix_end(part, id, key, status)
        end
      end
      indexed = indexed + 1
    end
  end
end
return indexed
