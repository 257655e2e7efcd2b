-- The dead letters of one principal in one partition: a zset beside the partition's own,
-- in its slot, named by a digest of the owner the task's spec records.
local function owner_dead_letters(dead_key, task_key)
  local spec = redis.call('HGET', task_key, 'spec')
  local owner = spec and cjson.decode(spec)['owner']
  if type(owner) ~= 'string' then
    owner = ''
  end
  return dead_key .. ':owner:' .. redis.sha1hex(owner)
end
