-- The writer lock's fair acquire: dead waiters leave the line, and only the first in line (or
-- anyone when the line is empty) takes a free lease. Each acquire gets the next epoch.
-- KEYS: lease, order zset, heartbeat zset, epoch; ARGV: token, leaseMs, now, waiterTtlMs.
-- Returns the epoch (> 0) when acquired, else 0.
-- @include drop-dead-waiters
dropDeadWaiters(KEYS[2], KEYS[3], ARGV[3], ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if first and first ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('INCR', KEYS[4])
