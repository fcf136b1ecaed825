-- Extends a lease only while it is still ours.
-- KEYS: lease; ARGV: token, leaseMs. Returns 1 when extended, 0 when the lease is gone or another's.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
