import { type HealthCheckItem, type HealthCheckResult, worstStatus } from '@datasync/schemas';
import { snapshotCheck } from '../snapshot/analytics-snapshot.js';
import {
  databaseChecks,
  diskFreeCheck,
  failedJobsCheck,
  type HealthDeps,
  inspectDatabase,
  lastBackupCheck,
  lastSyncCheck,
  streamLagCheck,
} from './checks.js';

export interface HealthCheckOptions {
  /** A check that has not answered by then fails (the database waits for the writer lock). */
  timeoutMs?: number;
  onProgress?: (percent: number) => Promise<void> | void;
}

class CheckTimeoutError extends Error {
  override readonly name = 'CheckTimeoutError';
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CheckTimeoutError(`${what} did not answer within ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const DATABASE_CHECKS = ['database', 'row counts', 'required values', 'business rules'];

/**
 * The health check of CONTRACT.md: every check reports ok, warn or fail with a detail, and the
 * result is the worst of them. A check that throws or times out is a fail with the reason; it
 * never stops the others.
 */
export async function runHealthCheck(
  deps: HealthDeps,
  options: HealthCheckOptions = {},
): Promise<HealthCheckResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const checks: HealthCheckItem[] = [];
  try {
    checks.push(...databaseChecks(await withTimeout(inspectDatabase(deps), timeoutMs, 'the database')));
  } catch (error) {
    const reason = (error as Error).message;
    checks.push({ name: 'database', status: 'fail', detail: `does not answer: ${reason}` });
    for (const name of DATABASE_CHECKS.slice(1))
      checks.push({ name, status: 'fail', detail: 'not checked: the database did not answer' });
  }
  await options.onProgress?.(50);
  const others: [string, (d: HealthDeps) => Promise<HealthCheckItem>][] = [
    ['last sync', lastSyncCheck],
    ['last backup', lastBackupCheck],
    ['failed jobs', failedJobsCheck],
    ['disk free', diskFreeCheck],
  ];
  if (deps.config.SALES_STREAM_KEY) others.push(['stream lag', streamLagCheck]);
  for (const [name, check] of others) {
    try {
      checks.push(await withTimeout(check(deps), timeoutMs, name));
    } catch (error) {
      checks.push({ name, status: 'fail', detail: `could not check: ${(error as Error).message}` });
    }
  }
  const snapshot = deps.analyticsSnapshot?.();
  if (snapshot) checks.push(snapshotCheck(snapshot, (deps.now ?? Date.now)()));
  await options.onProgress?.(100);
  return {
    status: worstStatus(checks.map((c) => c.status)),
    checks,
    checkedAt: new Date((deps.now ?? Date.now)()).toISOString(),
  };
}
