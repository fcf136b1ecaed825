-- Deletes a key only while it still holds the value read (a lease's token, a record's text).
-- KEYS: key; ARGV: value. Returns 1 when deleted, 0 when the key is gone or holds another value.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
