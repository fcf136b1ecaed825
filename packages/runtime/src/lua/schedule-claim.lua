-- Claims a schedule for a job unless the job holding the claim is still being processed: BullMQ
-- keeps a job's lock key while a worker runs it and drops it when it finishes, so a claim left by
-- a finished or dead run never blocks. The holder's lock key is only known here, hence built in
-- the script from BullMQ's layout (ARGV[2] .. jobId .. ARGV[4], see bullmq-internals.ts).
-- KEYS: claim; ARGV: jobId, job key prefix, claim ttl ms, lock key suffix.
-- Returns the id of the job still running, or false when the claim is now ours.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. holder .. ARGV[4]) == 1 then
  return holder
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return false
