-- The dead letters of one principal in one partition: a zset beside the partition's own,
-- in its slot, named by a digest of the owner the task's spec records. A spec that does not
-- decode names no one: an error would stop the rest of a call that ends many tasks.
local function owner_dead_letters(dead_key, task_key)
  local spec = redis.call('HGET', task_key, 'spec')
  local decoded, fields = pcall(cjson.decode, spec or '')
  local owner = decoded and type(fields) == 'table' and fields['owner']
  if type(owner) ~= 'string' then
    owner = ''
  end
  return dead_key .. ':owner:' .. redis.sha1hex(owner)
end
