-- Sets a hash field to a number unless it holds a larger one already (an older time never
-- replaces a newer one). KEYS: hash; ARGV: field, value. Returns 1 when set.
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0
