-- take_tokens(bucket_key, rate, burst, wanted, partial, usage_prefix, owner_prefix)
-- The token bucket step shared by token_bucket.lua and submit_one.lua, on Redis's clock.
-- The bucket hash holds `tokens` and `ts` (epoch s); usage_prefix .. epoch-second counts
-- what was admitted in that second; usage_prefix .. 'totals' is a hash of all-time admitted
-- and refused counts. owner_prefix keeps the same counts for the submitting principal.
-- Returns granted, tokens left, now, admitted this second.
local function count_usage(prefix, second, granted, refused)
  local totals_key = prefix .. 'totals'
  if granted > 0 then
    redis.call('HINCRBY', totals_key, 'admitted', granted)
  end
  if refused > 0 then
    redis.call('HINCRBY', totals_key, 'refused', refused)
  end
  local usage_key = prefix .. second
  if granted > 0 then
    local used = redis.call('INCRBY', usage_key, granted)
    redis.call('EXPIRE', usage_key, 120)
    return used
  end
  return tonumber(redis.call('GET', usage_key) or '0')
end

local function take_tokens(bucket_key, rate, burst, wanted, partial, usage_prefix, owner_prefix)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local state = redis.call('HMGET', bucket_key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local last = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
  local granted = 0
  if partial then
    granted = math.min(wanted, math.floor(tokens))
  elseif tokens >= wanted then
    granted = wanted
  end
  tokens = tokens - granted
  redis.call('HSET', bucket_key, 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', now))
  redis.call('EXPIRE', bucket_key, math.ceil(burst / rate) + 60)
  local used = count_usage(usage_prefix, t[1], granted, wanted - granted)
  count_usage(owner_prefix, t[1], granted, wanted - granted)
  return granted, tokens, now, used
end
