import {
  BACKUP_JOBS,
  HEALTH_CHECK_JOB,
  HealthCheckResult,
  JOBS,
  QUEUES,
  type QueueName,
  SalesSyncOutcome,
} from '@datasync/schemas';
import type { RaisedAlert } from './alerter.js';

/** A job that reached the end: completed, or failed for good (out of retries, or unrecoverable). */
export interface FinishedJob {
  queue: QueueName;
  jobId: string;
  name: string;
  outcome: 'completed' | 'failed';
  result?: unknown;
  failedReason?: string;
  attemptsMade: number;
  /** The job's data, when the trigger needs it (sales-sync: its source). */
  data: unknown;
}

const clip = (text: string, max = 500) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** Why a completed sales sync counts as "returned no sales", or null when it brought some. */
export function noSalesReason(result: unknown): string | null {
  const parsed = SalesSyncOutcome.safeParse(result);
  if (!parsed.success) return null;
  const r = parsed.data;
  if (r.skipped || r.duplicate) return null;
  if (r.warnings && r.warnings.length > 0) {
    const shown = r.warnings.map((w) => (typeof w === 'string' ? w : JSON.stringify(w))).join('; ');
    return `the sync finished with warnings: ${clip(shown)}`;
  }
  const count = r.received ?? r.fetched ?? r.accepted ?? r.stored;
  return count === 0 ? 'the upstream API returned no sales for the window' : null;
}

/** The contract's triggers on a completed job: a sync with no sales, a failed health check or verification. */
export function alertForCompletedJob(job: FinishedJob): RaisedAlert | null {
  if (job.queue === QUEUES.salesSync && job.name === JOBS.salesSync) {
    const source =
      (job.result as { source?: unknown } | null)?.source ??
      (job.data as { source?: unknown } | null)?.source;
    if (source !== undefined && source !== 'api') return null;
    const reason = noSalesReason(job.result);
    if (!reason) return null;
    return {
      kind: 'sync-no-sales',
      key: 'sync-no-sales',
      severity: 'warning',
      title: 'The sales sync returned no sales',
      detail: `Job ${job.jobId}: ${reason}. Check the upstream API (SALES_API_URL) and its key.`,
    };
  }
  if (job.name === HEALTH_CHECK_JOB) {
    const parsed = HealthCheckResult.safeParse(job.result);
    if (!parsed.success || parsed.data.status !== 'fail') return null;
    const failing = parsed.data.checks.filter((c) => c.status === 'fail');
    return {
      kind: 'health-check-failed',
      key: 'health-check-failed',
      title: `Health check failed: ${failing.map((c) => c.name).join(', ')}`,
      detail: failing.map((c) => `${c.name}: ${c.detail}`).join('\n'),
    };
  }
  if (job.queue === QUEUES.backup && job.name === BACKUP_JOBS.verify) {
    const r = job.result as {
      ok?: unknown;
      name?: unknown;
      copies?: { location: string; problems: string[] }[];
    };
    if (r?.ok !== false) return null;
    const problems = (r.copies ?? []).flatMap((c) => c.problems.map((p) => `${c.location}: ${p}`));
    return {
      kind: 'backup-failed',
      key: 'backup-verification-failed',
      title: `Backup ${String(r.name)} failed its restore verification`,
      detail: clip(problems.join('\n') || 'see the verify-backup job result'),
    };
  }
  return null;
}

/** A job failed for good: a failed backup (or health check) has its own alert, any other job "out of retries". */
export function alertForFailedJob(job: FinishedJob): RaisedAlert {
  const reason = clip(job.failedReason ?? 'unknown error');
  const attempts = `after ${job.attemptsMade} attempt(s)`;
  if (job.queue === QUEUES.backup && job.name === BACKUP_JOBS.backup) {
    return {
      kind: 'backup-failed',
      key: 'backup-failed',
      title: 'Backup failed',
      detail: `Job ${job.jobId} failed ${attempts}: ${reason}. Earlier backups are untouched.`,
    };
  }
  if (job.queue === QUEUES.backup && job.name === BACKUP_JOBS.verify) {
    return {
      kind: 'backup-failed',
      key: 'backup-verification-failed',
      title: 'Backup verification failed',
      detail: `Job ${job.jobId} failed ${attempts}: ${reason}`,
    };
  }
  if (job.name === HEALTH_CHECK_JOB) {
    return {
      kind: 'health-check-failed',
      key: 'health-check-failed',
      title: 'Health check could not run',
      detail: `Job ${job.jobId} failed ${attempts}: ${reason}`,
    };
  }
  return {
    kind: 'job-out-of-retries',
    key: `job-out-of-retries:${job.queue}:${job.name}`,
    title: `Job ${job.name} on the ${job.queue} queue failed for good`,
    detail: `Job ${job.jobId} failed ${attempts} and will not be retried: ${reason}. It stays in the failed list (Bull Board, GET /v1/jobs/${job.jobId}).`,
  };
}
