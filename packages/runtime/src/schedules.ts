import type { SkippedRun } from '@datasync/schemas';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

/**
 * Scheduled runs: which schedule a job belongs to, the record of each schedule's last run (read by
 * the scheduler's catch-up and by `GET /v1/schedules`), and the overlap guard every worker calls
 * at the top of a job. Keys live beside the queues under the same `datasync:` prefix.
 */
export const SCHEDULE_KEYS = {
  /** hash: schedule id -> JSON {jobId, startedAt} of the newest run that started. */
  lastRun: 'datasync:schedules:last-run',
  /** hash: schedule id -> runs skipped because the previous run was still active. */
  skips: 'datasync:schedules:skips',
  /** list, newest first: JSON of the last 100 skips. */
  skipLog: 'datasync:schedules:skip-log',
  /** hash: schedule id -> ms when its current definition was written (catch-up starts there). */
  since: 'datasync:schedules:since',
  /** string: the scheduler replica reconciling right now. */
  reconcileLock: 'datasync:schedules:reconcile-lock',
  /** string per schedule: the job id of the run that last went through the guard. */
  claim: (scheduleId: string) => `datasync:schedules:claim:${scheduleId}`,
} as const;

export interface LastRun {
  jobId: string;
  startedAt: string;
}

/** A run the scheduler enqueues on start for a missed due time; BullMQ ids cannot hold ':'. */
export function catchUpJobId(scheduleId: string, dueMs: number): string {
  return `catchup-${scheduleId}-${dueMs}`;
}

/** The schedule a job runs for: a BullMQ job scheduler's iteration, or a catch-up run; else null. */
export function scheduleIdOfJob(job: Pick<Job, 'id' | 'repeatJobKey'>): string | null {
  if (job.repeatJobKey) return job.repeatJobKey;
  const match = /^catchup-(.+)-(\d+)$/.exec(job.id ?? '');
  return match ? (match[1] as string) : null;
}

// Claims the schedule for this job unless the job holding the claim is still being processed:
// BullMQ keeps `<queue>:<jobId>:lock` while a worker runs a job and drops it when it finishes, so
// a claim left by a finished or dead run never blocks. The holder's lock key is only known here,
// hence built in the script (single-node Redis, which BullMQ needs anyway).
const CLAIM = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. holder .. ':lock') == 1 then
  return holder
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return false
`;

const CLAIM_TTL_MS = 30 * 86_400_000;

export interface ScheduledRunOptions {
  redis: Redis;
  metrics?: Metrics;
  logger?: Logger;
}

/**
 * Call at the top of every job a schedule can start. Not a scheduled job: null, carry on.
 * A scheduled job whose previous run of the same schedule is still active: the skip is recorded
 * and a `SkippedRun` comes back, which the processor returns as its result without doing the work.
 * Otherwise the run is recorded as the schedule's last run and null comes back.
 */
export async function beginScheduledRun(job: Job, options: ScheduledRunOptions): Promise<SkippedRun | null> {
  const schedule = scheduleIdOfJob(job);
  if (!schedule || !job.id) return null;
  const { redis } = options;
  const holder = (await redis.eval(
    CLAIM,
    1,
    SCHEDULE_KEYS.claim(schedule),
    job.id,
    `${job.queueQualifiedName}:`,
    CLAIM_TTL_MS,
  )) as string | null;
  const now = new Date().toISOString();
  if (holder) {
    const skipped: SkippedRun = {
      skipped: true,
      reason: `the previous run of schedule ${schedule} (job ${holder}) is still active`,
      schedule,
      activeJobId: holder,
    };
    await redis
      .multi()
      .hincrby(SCHEDULE_KEYS.skips, schedule, 1)
      .lpush(SCHEDULE_KEYS.skipLog, JSON.stringify({ ...skipped, jobId: job.id, at: now }))
      .ltrim(SCHEDULE_KEYS.skipLog, 0, 99)
      .exec();
    options.metrics?.scheduleSkips.inc({ schedule });
    options.logger?.warn({ jobId: job.id, schedule, activeJobId: holder }, 'scheduled run skipped');
    return skipped;
  }
  const run: LastRun = { jobId: job.id, startedAt: now };
  await redis.hset(SCHEDULE_KEYS.lastRun, schedule, JSON.stringify(run));
  return null;
}

export interface ScheduleRecords {
  lastRuns: Map<string, LastRun>;
  skips: Map<string, number>;
  since: Map<string, number>;
}

export async function readScheduleRecords(redis: Redis): Promise<ScheduleRecords> {
  const [lastRuns, skips, since] = await Promise.all([
    redis.hgetall(SCHEDULE_KEYS.lastRun),
    redis.hgetall(SCHEDULE_KEYS.skips),
    redis.hgetall(SCHEDULE_KEYS.since),
  ]);
  const runs = new Map<string, LastRun>();
  for (const [id, text] of Object.entries(lastRuns)) {
    try {
      runs.set(id, JSON.parse(text) as LastRun);
    } catch {
      // a damaged record reads as "no run recorded"
    }
  }
  const numbers = (h: Record<string, string>) => new Map(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  return { lastRuns: runs, skips: numbers(skips), since: numbers(since) };
}

// ---------------------------------------------------------------- last successful runs

/** hash: job name -> ms of its newest successful finish (sales-sync, backup, health-check, ...). */
export const LAST_SUCCESS_KEY = 'datasync:ops:last-success';

const SET_IF_NEWER = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0
`;

/** Records a successful finish; an older time never replaces a newer one. */
export async function recordLastSuccess(redis: Redis, jobName: string, atMs: number): Promise<void> {
  await redis.eval(SET_IF_NEWER, 1, LAST_SUCCESS_KEY, jobName, Math.round(atMs));
}

export async function readLastSuccess(redis: Redis): Promise<Map<string, number>> {
  const all = await redis.hgetall(LAST_SUCCESS_KEY);
  return new Map(Object.entries(all).map(([k, v]) => [k, Number(v)]));
}
