import { Lease, SCHEDULE_KEYS } from '@datasync/runtime';
import type { JobSchedulerJson } from 'bullmq';
import { type CatchUpDeps, catchUpMissedRuns } from './catch-up.js';
import type { ConfiguredSchedule } from './timetable.js';

export interface ReconcileDeps extends CatchUpDeps {
  /** How long to wait for another replica's reconcile to finish before giving up. */
  lockWaitMs?: number;
}

export interface ReconcileReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
  disabled: string[];
  caughtUp: string[];
}

/** Another scheduler replica held the reconcile lock for longer than we were willing to wait. */
export class ReconcileBusyError extends Error {
  override readonly name = 'ReconcileBusyError';
}

// A reconcile takes milliseconds; a replica killed mid-way holds its successor back this long at most.
const LOCK_TTL_MS = 10_000;

/**
 * Makes the job schedulers in Redis exactly the configured timetable. A scheduler whose cron,
 * zone, job and data are already as configured is left untouched (upserting it would replace a
 * pending run that is overdue because no worker was up); a changed one is upserted under its
 * stable id; one the timetable does not name, or names `off`, is removed. A short lease makes
 * replicas take turns, since concurrent upserts at boot have duplicated schedulers (bullmq 2876,
 * 3381, 3085).
 */
export async function reconcileTimetable(
  schedules: readonly ConfiguredSchedule[],
  deps: ReconcileDeps,
  options: { catchUp: boolean },
): Promise<ReconcileReport> {
  const lock = new Lease({ redis: deps.redis, key: SCHEDULE_KEYS.reconcileLock, leaseMs: LOCK_TTL_MS });
  if (!(await lock.acquire({ waitMs: deps.lockWaitMs ?? 60_000, pollMs: 100 })))
    throw new ReconcileBusyError('another scheduler replica has been reconciling for too long');
  try {
    const report = await applyTimetable(schedules, deps);
    if (options.catchUp) report.caughtUp = await catchUpMissedRuns(schedules, deps);
    return report;
  } finally {
    await lock.release();
  }
}

async function applyTimetable(
  schedules: readonly ConfiguredSchedule[],
  deps: ReconcileDeps,
): Promise<ReconcileReport> {
  const { redis, queues, logger } = deps;
  const now = (deps.now ?? Date.now)();
  const report: ReconcileReport = {
    created: [],
    updated: [],
    unchanged: [],
    removed: [],
    disabled: [],
    caughtUp: [],
  };
  const wanted = new Map(
    schedules.filter((s) => s.pattern !== null).map((s) => [`${s.definition.queue}/${s.definition.id}`, s]),
  );
  for (const [queueName, queue] of queues) {
    const existing = await queue.getJobSchedulers(0, -1, true);
    const existingIds = new Set(existing.map((e) => e.key));
    for (const scheduler of existing) {
      if (wanted.has(`${queueName}/${scheduler.key}`)) continue;
      await queue.removeJobScheduler(scheduler.key);
      await redis.hdel(SCHEDULE_KEYS.since, scheduler.key);
      const configured = schedules.find((s) => s.definition.id === scheduler.key);
      (configured ? report.disabled : report.removed).push(scheduler.key);
      logger.info({ schedule: scheduler.key, queue: queueName }, 'job scheduler removed');
    }
    for (const schedule of schedules) {
      const { definition, pattern, tz } = schedule;
      if (definition.queue !== queueName || pattern === null) continue;
      const current = existing.find((e) => e.key === definition.id);
      if (current && matches(current, schedule)) {
        report.unchanged.push(definition.id);
        await redis.hsetnx(SCHEDULE_KEYS.since, definition.id, now);
        continue;
      }
      await queue.upsertJobScheduler(
        definition.id,
        { pattern, tz },
        { name: definition.job, data: definition.data },
      );
      // "Since" is the moment after this write, not the start of the reconcile: on a loaded host
      // the loop can outlast a due time (a per-second schedule), and a time due before BullMQ
      // planned the first run is not a run this schedule missed.
      await redis.hset(SCHEDULE_KEYS.since, definition.id, (deps.now ?? Date.now)());
      (existingIds.has(definition.id) ? report.updated : report.created).push(definition.id);
      logger.info({ schedule: definition.id, queue: queueName, cron: pattern, tz }, 'job scheduler written');
    }
  }
  for (const schedule of schedules) {
    if (schedule.pattern === null && !report.disabled.includes(schedule.definition.id))
      report.disabled.push(schedule.definition.id);
  }
  return report;
}

function matches(current: JobSchedulerJson, schedule: ConfiguredSchedule): boolean {
  return (
    current.pattern === schedule.pattern &&
    (current.tz ?? null) === schedule.tz &&
    current.name === schedule.definition.job &&
    stableJson(current.template?.data ?? {}) === stableJson(schedule.definition.data)
  );
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}
