-- Makes a waiting task a child of one of its parents, in the parent's slot: the parent's end
-- then tells the child (lifecycle.dependencies). Returns the parent's status as it is now,
-- '' when it has no record: a parent that ended before this registration is found here, one
-- that ends after it finds the child in its children set, so none is missed.
-- KEYS[1]  parent hash      PREFIX:{pN}:task:PARENT
-- KEYS[2]  its children     PREFIX:{pN}:children:PARENT   (set of child ids)
-- ARGV[1]  child id
-- ARGV[2]  how long to keep the children set, ms (the records' retention; 0 keeps it)
redis.call('SADD', KEYS[2], ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return redis.call('HGET', KEYS[1], 'status') or ''
