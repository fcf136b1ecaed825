-- Creates a record unless one exists; returns the existing record, or false when created.
-- KEYS: record; ARGV: value, ttl seconds.
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
