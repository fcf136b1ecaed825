-- How many live waiters stand in the writer lock's line (dead ones are dropped first).
-- KEYS: order zset, heartbeat zset; ARGV: now, waiterTtlMs.
local stale = tonumber(ARGV[1]) - tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', stale)
for _, member in ipairs(dead) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
end
return redis.call('ZCARD', KEYS[1])
