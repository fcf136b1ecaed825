-- How many live waiters stand in the writer lock's line (dead ones are dropped first).
-- KEYS: order zset, heartbeat zset; ARGV: now, waiterTtlMs.
-- @include drop-dead-waiters
dropDeadWaiters(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
