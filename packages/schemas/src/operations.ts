import { z } from 'zod';
import type { EnvConfig } from './env.js';
import { BACKUP_JOBS, JOBS, QUEUES, type QueueName } from './jobs.js';

/**
 * Operations: the timetable the scheduler reconciles into BullMQ job schedulers, what
 * `GET /v1/schedules` shows, the health check's result, and the record a skipped scheduled run
 * returns. Producers (scheduler, api) and consumers (workers, CLI) import these.
 */

// ---------------------------------------------------------------- timetable

export interface ScheduleDefinition {
  /** Stable job scheduler id: upserting it again never makes a second scheduler. */
  id: string;
  queue: QueueName;
  job: string;
  data: Record<string, unknown>;
  /** The variable holding its cron expression (or `off`). */
  variable: keyof EnvConfig &
    (
      | 'SCHEDULE_SALES_SYNC'
      | 'SCHEDULE_HEALTH_CHECK'
      | 'SCHEDULE_BACKUP'
      | 'SCHEDULE_BACKUP_CLEANUP'
      | 'SCHEDULE_VERIFY_BACKUP'
    );
  description: string;
}

export const TIMETABLE: readonly ScheduleDefinition[] = [
  {
    id: 'sales-sync',
    queue: QUEUES.salesSync,
    job: JOBS.salesSync,
    data: { source: 'api', days: 1 },
    variable: 'SCHEDULE_SALES_SYNC',
    description: 'sales sync from the upstream API (last 1 day, incremental)',
  },
  {
    id: 'health-check',
    queue: QUEUES.health,
    job: JOBS.healthCheck,
    data: {},
    variable: 'SCHEDULE_HEALTH_CHECK',
    description: 'health check',
  },
  {
    id: 'backup',
    queue: QUEUES.backup,
    job: BACKUP_JOBS.backup,
    data: { reason: 'scheduled' },
    variable: 'SCHEDULE_BACKUP',
    description: 'backup',
  },
  {
    id: 'backup-cleanup',
    queue: QUEUES.backup,
    job: BACKUP_JOBS.cleanup,
    data: {},
    variable: 'SCHEDULE_BACKUP_CLEANUP',
    description: 'backup cleanup (older than BACKUP_RETENTION_DAYS)',
  },
  {
    id: 'verify-backup',
    queue: QUEUES.backup,
    job: BACKUP_JOBS.verify,
    data: {},
    variable: 'SCHEDULE_VERIFY_BACKUP',
    description: 'restore verification of the newest backup',
  },
];

export const HEALTH_CHECK_JOB = 'health-check';

/** The newest run of a schedule that went ahead (skipped runs are counted, not recorded here). */
export const ScheduleRun = z.object({
  jobId: z.string(),
  startedAt: z.iso.datetime(),
  state: z.string().nullable().describe('the job state now: active, completed, failed; null once removed'),
  finishedAt: z.string().nullable(),
});
export type ScheduleRun = z.infer<typeof ScheduleRun>;

export const ScheduleInfo = z.object({
  id: z.string(),
  job: z.string(),
  queue: z.string(),
  description: z.string(),
  variable: z.string().describe('the environment variable that sets it'),
  enabled: z.boolean().describe('false when its variable is "off" (or the scheduler has not run yet)'),
  cron: z.string().nullable(),
  tz: z.string().nullable(),
  nextRun: z.string().nullable(),
  lastRun: ScheduleRun.nullable(),
  skippedRuns: z.number().int().describe('runs skipped because the previous one was still active'),
});
export type ScheduleInfo = z.infer<typeof ScheduleInfo>;

export const SchedulesBody = z.object({
  schedules: z.array(ScheduleInfo),
  unknown: z
    .array(z.object({ id: z.string(), queue: z.string() }))
    .describe('job schedulers in Redis that the timetable does not name (the scheduler removes them)'),
});
export type SchedulesBody = z.infer<typeof SchedulesBody>;

/** What a scheduled job returns when the previous run of its schedule is still active. */
export const SkippedRun = z.object({
  skipped: z.literal(true),
  reason: z.string(),
  schedule: z.string(),
  activeJobId: z.string(),
});
export type SkippedRun = z.infer<typeof SkippedRun>;

// ---------------------------------------------------------------- health check

export const HealthStatus = z.enum(['ok', 'warn', 'fail']);
export type HealthStatus = z.infer<typeof HealthStatus>;

export const HealthCheckItem = z.object({
  name: z.string(),
  status: HealthStatus,
  detail: z.string(),
});
export type HealthCheckItem = z.infer<typeof HealthCheckItem>;

export const HealthCheckResult = z.object({
  status: HealthStatus.describe('the worst of the checks'),
  checks: z.array(HealthCheckItem),
  checkedAt: z.iso.datetime(),
});
export type HealthCheckResult = z.infer<typeof HealthCheckResult>;

const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, fail: 2 };
export function worstStatus(statuses: readonly HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>((worst, s) => (RANK[s] > RANK[worst] ? s : worst), 'ok');
}

// ---------------------------------------------------------------- alerts

/**
 * The part of a sales-sync result the "sync returned no sales" alert reads. Loose on purpose: it
 * names the counters a sync reports and ignores the rest.
 */
export const SalesSyncOutcome = z.looseObject({
  skipped: z.boolean().optional(),
  duplicate: z.boolean().optional(),
  received: z.number().optional(),
  fetched: z.number().optional(),
  accepted: z.number().optional(),
  stored: z.number().optional(),
  warnings: z.array(z.unknown()).optional(),
});
export type SalesSyncOutcome = z.infer<typeof SalesSyncOutcome>;
