import type { SkippedRun } from '@datasync/schemas';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { jobLockKeyParts } from './bullmq-internals.js';
import { LAST_SUCCESS_KEY, SCHEDULE_KEYS } from './keys.js';
import type { Metrics } from './metrics.js';
import { runScript } from './scripts.js';

/**
 * Scheduled runs: which schedule a job belongs to, the record of each schedule's last run (read by
 * the scheduler's catch-up and by `GET /v1/schedules`), and the overlap guard every worker calls
 * at the top of a job. Keys: keys.ts (SCHEDULE_KEYS).
 */
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
  // Claims the schedule unless the job holding the claim still runs (its BullMQ lock exists), so a
  // claim left by a finished or dead run never blocks (lua/schedule-claim.lua).
  const lock = jobLockKeyParts(job);
  const holder = (await runScript(
    redis,
    'schedule-claim',
    [SCHEDULE_KEYS.claim(schedule)],
    [job.id, lock.prefix, CLAIM_TTL_MS, lock.suffix],
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

/** Records a successful finish; an older time never replaces a newer one. */
export async function recordLastSuccess(redis: Redis, jobName: string, atMs: number): Promise<void> {
  await runScript(redis, 'hash-set-if-newer', [LAST_SUCCESS_KEY], [jobName, Math.round(atMs)]);
}

export async function readLastSuccess(redis: Redis): Promise<Map<string, number>> {
  const all = await redis.hgetall(LAST_SUCCESS_KEY);
  return new Map(Object.entries(all).map(([k, v]) => [k, Number(v)]));
}
