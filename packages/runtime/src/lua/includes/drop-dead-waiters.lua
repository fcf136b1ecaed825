-- A writer lock waiter whose heartbeat is older than the waiter TTL is dead: it leaves the line.
local function dropDeadWaiters(orderKey, heartbeatKey, now, waiterTtlMs)
  local dead = redis.call('ZRANGEBYSCORE', heartbeatKey, '-inf', tonumber(now) - tonumber(waiterTtlMs))
  for _, member in ipairs(dead) do
    redis.call('ZREM', orderKey, member)
    redis.call('ZREM', heartbeatKey, member)
  end
end
