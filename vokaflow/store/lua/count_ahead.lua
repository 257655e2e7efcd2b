-- Counts the ready tasks that will be dispatched before a task with the given score.
-- KEYS[1..n]  ready queues of one pool  PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]     the task's queue score (exclusive bound)
-- Returns the sum over the queues. Spans partitions: one Redis node only (see level_counts).
local ahead = 0
for _, queue in ipairs(KEYS) do
  ahead = ahead + redis.call('ZCOUNT', queue, '-inf', '(' .. ARGV[1])
end
return ahead
