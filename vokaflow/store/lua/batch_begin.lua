-- Writes a new batch, whole or not at all: its record (status 'submitting' until its tasks
-- are written), its ordered task ids and the held ones. Nothing is written when the id
-- exists (a repeated idempotency key).
-- KEYS[1]  batch hash       PREFIX:{b:ID}:batch
-- KEYS[2]  task ids         PREFIX:{b:ID}:tasks   (list)
-- KEYS[3]  held task ids    PREFIX:{b:ID}:held    (list)
-- ARGV[1]  how many field/value pairs of the record follow
-- ARGV[2..] the record's pairs, then the task ids, then '' and the held ids
-- Returns 1 when written, 0 when the batch exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local pairs_end = 1 + 2 * tonumber(ARGV[1])
local record = {}
for i = 2, pairs_end do
  record[#record + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(record))
local list, page = KEYS[2], {}
for i = pairs_end + 1, #ARGV do
  if ARGV[i] == '' then
    if #page > 0 then redis.call('RPUSH', list, unpack(page)) end
    list, page = KEYS[3], {}
  else
    page[#page + 1] = ARGV[i]
    if #page == 1000 then
      redis.call('RPUSH', list, unpack(page))
      page = {}
    end
  end
end
if #page > 0 then redis.call('RPUSH', list, unpack(page)) end
return 1
