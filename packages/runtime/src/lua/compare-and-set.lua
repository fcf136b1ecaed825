-- Replaces a record only while it still holds the value read, keeping its TTL.
-- KEYS: record; ARGV: expected value, new value. Returns 1 when replaced.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
