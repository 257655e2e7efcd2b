-- Takes tokens from one category's bucket, atomically: the same limit holds across every
-- gateway replica. Used for batches; a single submit uses submit_one.lua.
-- KEYS[1]  bucket hash      PREFIX:{rl:CATEGORY}:bucket
-- ARGV[1]  refill rate, tokens per second (the category's limit_per_second)
-- ARGV[2]  capacity (the category's burst)
-- ARGV[3]  tokens wanted
-- ARGV[4]  '1' to grant as many as there are (a batch), '0' for all or nothing
-- ARGV[5]  usage key prefix PREFIX:{rl:CATEGORY}:usage:  (+ epoch second, same slot)
-- ARGV[6]  the submitting principal's usage key prefix      (same slot)
-- Returns {granted, tokens left (string), now (string), admitted this second}.
--@include lib/take_tokens
local granted, tokens, now, used = take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5], ARGV[6])
return {granted, string.format('%.6f', tokens), string.format('%.6f', now), used}
