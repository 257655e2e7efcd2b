-- Counts the ready tasks that will be dispatched before a task with the given score.
-- KEYS[1..n]  ready queues of one pool  PREFIX:{pN}:queue:WORKER_TYPE
-- ARGV[1]     the task's queue score (exclusive bound)
-- Returns the sum over the queues. Spans partitions: one Redis node only (see level_counts).
--@include lib/count_ahead
return count_ahead(1, ARGV[1])
