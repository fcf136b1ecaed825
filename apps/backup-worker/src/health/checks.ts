import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type DatabaseWriter,
  lastCommittedAt,
  pingDatabase,
  rollupDrift,
  salesMissingValues,
  salesRuleViolations,
  tableRowCounts,
} from '@datasync/db';
import {
  countFailedSince,
  describeOutsideHolder,
  readLastSuccess,
  readOutsideHolder,
  readStreamLag,
} from '@datasync/runtime';
import {
  type EnvConfig,
  type HealthCheckItem,
  type HealthStatus,
  JOBS,
  type QueueName,
} from '@datasync/schemas';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AnalyticsSnapshotStatus } from '../snapshot/analytics-snapshot.js';

export type HealthConfig = Pick<
  EnvConfig,
  | 'DATABASE_PATH'
  | 'BACKUP_DIR'
  | 'SCHEDULE_SALES_SYNC'
  | 'HEALTH_MAX_SYNC_AGE_HOURS'
  | 'HEALTH_MAX_BACKUP_AGE_HOURS'
  | 'HEALTH_MIN_DISK_FREE_PERCENT'
  | 'SALES_STREAM_KEY'
  | 'SALES_STREAM_GROUP'
  | 'HEALTH_MAX_STREAM_LAG_SECONDS'
>;

/** What the checks read from; main.ts builds it, tests build it on temp folders. */
export interface HealthDeps {
  writer: DatabaseWriter;
  redis: Redis;
  queues: Map<QueueName, Queue>;
  config: HealthConfig;
  /** The newest complete local backup (BACKUP_DIR manifests), or null. */
  newestBackup: () => Promise<{ name: string; createdAt: string; verification: string } | null>;
  /** With ANALYTICS_SNAPSHOT_PATH: the snapshot's state, reported as one more check. */
  analyticsSnapshot?: () => AnalyticsSnapshotStatus;
  now?: () => number;
}

const HOUR = 3_600_000;
const fmt = (n: number) => n.toLocaleString('en-US');

export function ageText(ms: number): string {
  if (ms < HOUR) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (ms < 48 * HOUR) return `${(ms / HOUR).toFixed(1)} h`;
  return `${(ms / (24 * HOUR)).toFixed(1)} days`;
}

/** ok under the limit, warn above it, fail above twice the limit. */
export function ageStatus(ageMs: number, limitHours: number): HealthStatus {
  if (ageMs > 2 * limitHours * HOUR) return 'fail';
  return ageMs > limitHours * HOUR ? 'warn' : 'ok';
}

export interface DatabaseFindings {
  answeredInMs: number;
  counts: Record<string, number>;
  missing: Record<string, number>;
  rules: Awaited<ReturnType<typeof salesRuleViolations>>;
  /** Keys where the dashboard's daily rollup and the sales disagree (a few, for the message). */
  rollup: Awaited<ReturnType<typeof rollupDrift>>;
  lastCommit: string | null;
}

/**
 * One read (one turn of the writer lock) for every database check. A process outside the stack
 * that holds the file fails the check at once, named, from the record the kept-out writer
 * publishes: waiting on the file here would only queue behind it.
 */
export async function inspectDatabase(deps: HealthDeps): Promise<DatabaseFindings> {
  const heldOutside = async () => {
    const holder = await readOutsideHolder(deps.redis).catch(() => null);
    return holder ? describeOutsideHolder(holder, (deps.now ?? Date.now)()) : null;
  };
  const now = await heldOutside();
  if (now) throw new Error(now);
  let done = false;
  const read = readDatabase(deps).finally(() => {
    done = true;
  });
  const watch = async (): Promise<never> => {
    while (!done) {
      await delay(500);
      const held = done ? null : await heldOutside();
      if (held) throw new Error(held);
    }
    return new Promise<never>(() => undefined);
  };
  return Promise.race([read, watch()]);
}

async function readDatabase(deps: HealthDeps): Promise<DatabaseFindings> {
  const started = performance.now();
  return deps.writer.read(async (conn) => {
    await pingDatabase(conn);
    const answeredInMs = Math.round(performance.now() - started);
    return {
      answeredInMs,
      counts: await tableRowCounts(conn),
      missing: await salesMissingValues(conn),
      rules: await salesRuleViolations(conn),
      rollup: await rollupDrift(conn),
      lastCommit: await lastCommittedAt(conn),
    };
  });
}

export function databaseChecks(found: DatabaseFindings): HealthCheckItem[] {
  const { counts, missing, rules } = found;
  const shown = ['sales', 'rejects', 'users', 'ingest_batches'].filter((t) => t in counts);
  const missingCols = Object.entries(missing).filter(([, n]) => n > 0);
  const ruleNames: Record<keyof typeof rules, string> = {
    totalMismatch: 'total_amount not within 0.01 of quantity x unit_price',
    badQuantity: 'quantity outside 1..1,000,000',
    negativePrice: 'unit_price below 0',
    nonPositiveTotal: 'total_amount not above 0',
    futureDate: 'date after tomorrow',
  };
  const broken = (Object.keys(rules) as (keyof typeof rules)[]).filter((k) => rules[k] > 0);
  return [
    {
      name: 'database',
      status: 'ok',
      detail: `opens and answers (${found.answeredInMs} ms, writer lock included)`,
    },
    {
      name: 'row counts',
      status: (counts.sales ?? 0) > 0 ? 'ok' : 'warn',
      detail:
        shown.map((t) => `${t} ${fmt(counts[t] ?? 0)}`).join(', ') +
        ((counts.sales ?? 0) > 0 ? '' : ' (the database holds no sales yet)') +
        (found.lastCommit ? `; last commit ${found.lastCommit}` : ''),
    },
    {
      name: 'required values',
      status: missingCols.length ? 'fail' : 'ok',
      detail: missingCols.length
        ? `sales rows without a value: ${missingCols.map(([c, n]) => `${c} ${fmt(n)}`).join(', ')}`
        : 'no sales row lacks a required value',
    },
    {
      name: 'business rules',
      status: broken.length ? 'warn' : 'ok',
      detail: broken.length
        ? broken.map((k) => `${fmt(rules[k])} with ${ruleNames[k]}`).join('; ')
        : 'every sale keeps the record rules',
    },
    {
      name: 'dashboard rollup',
      status: found.rollup.length ? 'fail' : 'ok',
      detail: found.rollup.length
        ? `the daily rollup the dashboard reads disagrees with the sales (the dashboard's figures are wrong; docs/operations.md "Rebuilding the dashboard rollup"): ${found.rollup
            .map((d) => `${d.key}: sales ${d.sales}, rollup ${d.rollup}`)
            .join('; ')}`
        : 'the daily rollup the dashboard reads equals the sales',
    },
  ];
}

export async function lastSyncCheck(deps: HealthDeps): Promise<HealthCheckItem> {
  const now = (deps.now ?? Date.now)();
  const at = (await readLastSuccess(deps.redis)).get(JOBS.salesSync);
  const limit = deps.config.HEALTH_MAX_SYNC_AGE_HOURS;
  if (!at) {
    const scheduled = deps.config.SCHEDULE_SALES_SYNC !== 'off';
    return {
      name: 'last sync',
      status: scheduled ? 'warn' : 'ok',
      detail: scheduled
        ? 'no successful sales sync recorded yet'
        : 'no successful sales sync recorded (SCHEDULE_SALES_SYNC is off)',
    };
  }
  const age = now - at;
  return {
    name: 'last sync',
    status: ageStatus(age, limit),
    detail: `last successful sales sync ${ageText(age)} ago (${new Date(at).toISOString()}; warn after ${limit} h)`,
  };
}

export async function lastBackupCheck(deps: HealthDeps): Promise<HealthCheckItem> {
  const now = (deps.now ?? Date.now)();
  const newest = await deps.newestBackup();
  const limit = deps.config.HEALTH_MAX_BACKUP_AGE_HOURS;
  if (!newest)
    return { name: 'last backup', status: 'warn', detail: `no backup in ${deps.config.BACKUP_DIR} yet` };
  const age = now - Date.parse(newest.createdAt);
  const status = ageStatus(age, limit);
  const failed = newest.verification === 'failed';
  return {
    name: 'last backup',
    status: failed && status === 'ok' ? 'warn' : status,
    detail: `${newest.name}, ${ageText(age)} old, ${newest.verification} (warn after ${limit} h)`,
  };
}

/** Jobs that failed for good in the last 24 hours, per queue (the failed set is scored by finish time). */
export async function failedJobsCheck(deps: HealthDeps): Promise<HealthCheckItem> {
  const since = (deps.now ?? Date.now)() - 24 * HOUR;
  const counts: [string, number][] = [];
  for (const [name, queue] of deps.queues) {
    const n = await countFailedSince(deps.redis, queue, since);
    if (n > 0) counts.push([name, n]);
  }
  return {
    name: 'failed jobs',
    status: counts.length ? 'warn' : 'ok',
    detail: counts.length
      ? `failed in the last 24 h: ${counts.map(([q, n]) => `${q} ${n}`).join(', ')}`
      : 'no job failed in the last 24 h',
  };
}

/** Free space where the database and the backups live. */
export async function diskFreeCheck(deps: HealthDeps): Promise<HealthCheckItem> {
  const min = deps.config.HEALTH_MIN_DISK_FREE_PERCENT;
  const places = new Map<string, string>([
    ['database', existingAncestor(dirname(resolve(deps.config.DATABASE_PATH)))],
    ['backups', existingAncestor(resolve(deps.config.BACKUP_DIR))],
  ]);
  const parts: string[] = [];
  let worst: HealthStatus = 'ok';
  for (const [label, path] of places) {
    const fs = await statfs(path);
    const free = Number(fs.bavail) * Number(fs.bsize);
    const percent = fs.blocks > 0 ? (Number(fs.bavail) / Number(fs.blocks)) * 100 : 100;
    const status: HealthStatus = percent < min / 2 ? 'fail' : percent < min ? 'warn' : 'ok';
    if (status === 'fail' || (status === 'warn' && worst === 'ok')) worst = status;
    parts.push(`${label} ${(free / 1024 ** 3).toFixed(1)} GiB free (${percent.toFixed(0)}%)`);
  }
  return { name: 'disk free', status: worst, detail: `${parts.join(', ')}; warn under ${min}%` };
}

function existingAncestor(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/**
 * With SALES_STREAM_KEY: how far the sync-worker is behind the stream, read from Redis (so it is
 * reported even when no sync-worker runs): entries not committed and the age of the oldest.
 */
export async function streamLagCheck(deps: HealthDeps): Promise<HealthCheckItem> {
  const {
    SALES_STREAM_KEY: stream,
    SALES_STREAM_GROUP: group,
    HEALTH_MAX_STREAM_LAG_SECONDS: limit,
  } = deps.config;
  if (!stream) return { name: 'stream lag', status: 'ok', detail: 'no stream configured (SALES_STREAM_KEY)' };
  const now = (deps.now ?? Date.now)();
  const lag = await readStreamLag(deps.redis, stream, group, now);
  if (!lag.exists) {
    return {
      name: 'stream lag',
      status: 'ok',
      detail: `stream ${stream} does not exist yet (nothing appended)`,
    };
  }
  const status: HealthStatus = lag.seconds > 2 * limit ? 'fail' : lag.seconds > limit ? 'warn' : 'ok';
  const detail =
    lag.entries === 0
      ? `stream ${stream}: every entry committed (group ${group}, ${lag.consumers} consumers)`
      : `stream ${stream}: ${fmt(lag.entries)} entries not committed (${fmt(lag.pending)} pending at a consumer), ` +
        `the oldest ${Math.round(lag.seconds)} s old (${lag.oldestId}; warn after ${limit} s)`;
  return { name: 'stream lag', status, detail };
}
