import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_PREFIX } from './keys.js';

/**
 * Every read of BullMQ's own Redis layout, in one place, for the few things its public API does
 * not answer (checked against bullmq 5.81: Queue, QueueGetters and Job have no call for them).
 * A BullMQ upgrade that moves a key breaks only this file (and the tests that use it):
 *
 * - a job's lock key `<queue>:<jobId>:lock`, which exists while a worker runs the job: the
 *   schedule claim (lua/schedule-claim.lua) checks it atomically, so no API call can stand in;
 * - a few fields of a job's hash (`name`, `atm`, `data`): `queue.getJob` would read the whole
 *   hash, and an ingest job's data is a whole batch;
 * - the failed set, scored by finish time: `getFailed`/`getJobCountByTypes` count all, not since;
 * - the newest id of the events stream, where `QueueEvents` starts reading.
 */

/** What the schedule claim script appends to a job id to get that job's lock key. */
export function jobLockKeyParts(job: Pick<Job, 'queueQualifiedName'>): { prefix: string; suffix: string } {
  return { prefix: `${job.queueQualifiedName}:`, suffix: ':lock' };
}

export interface JobSummary {
  name: string | null;
  attemptsMade: number;
  /** The job's data as stored (JSON text), only when asked for. */
  data: string | null;
}

/**
 * A finished job's name and attempts (and data if `withData`), without reading the rest of its
 * hash. The queue, or only its name when this process has no Queue object for it.
 */
export async function readJobSummary(
  redis: Redis,
  queue: Pick<Queue, 'toKey'> | string,
  jobId: string,
  options: { withData: boolean },
): Promise<JobSummary> {
  const key = typeof queue === 'string' ? `${QUEUE_PREFIX}:${queue}:${jobId}` : queue.toKey(jobId);
  const [name, atm, data] = await redis.hmget(key, 'name', 'atm', options.withData ? 'data' : 'name');
  return {
    name: name ?? null,
    attemptsMade: Number(atm ?? 0),
    data: options.withData ? (data ?? null) : null,
  };
}

/** Jobs of a queue that failed for good at or after `sinceMs`. */
export async function countFailedSince(
  redis: Redis,
  queue: Pick<Queue, 'toKey'>,
  sinceMs: number,
): Promise<number> {
  return redis.zcount(queue.toKey('failed'), sinceMs, '+inf');
}

/** The id of the newest entry of a queue's events stream ('0-0' when empty). */
export async function newestEventId(redis: Redis, queue: Pick<Queue, 'keys' | 'toKey'>): Promise<string> {
  const newest = (await redis.xrevrange(
    queue.keys.events ?? queue.toKey('events'),
    '+',
    '-',
    'COUNT',
    1,
  )) as [string, string[]][];
  return newest[0]?.[0] ?? '0-0';
}
