import {
  BACKUP_JOBS,
  BackupCleanupJobData,
  BackupJobData,
  RestoreJobData,
  VerifyBackupJobData,
} from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import { listBackups } from './catalog.js';
import type { BackupDeps } from './context.js';
import { createBackup } from './create-backup.js';
import { BackupCorruptError, BackupNotFoundError, BackupTooNewError } from './errors.js';
import { restoreBackup } from './restore.js';
import { cleanupBackups } from './retention.js';
import { verifyBackup } from './verify.js';

function parse<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error } },
  job: Job,
): T {
  const parsed = schema.safeParse(job.data ?? {});
  if (!parsed.success) throw new UnrecoverableError(`invalid ${job.name} job data: ${parsed.error.message}`);
  return parsed.data;
}

function run(deps: BackupDeps, job: Job): Promise<unknown> {
  switch (job.name) {
    case BACKUP_JOBS.backup:
      parse(BackupJobData, job);
      return createBackup(deps, { jobId: job.id ?? null });
    case BACKUP_JOBS.cleanup:
      return cleanupBackups(deps, { days: parse(BackupCleanupJobData, job).days ?? deps.retentionDays });
    case BACKUP_JOBS.restore:
      return restoreBackup(deps, parse(RestoreJobData, job).name);
    case BACKUP_JOBS.verify:
      return verifyBackup(deps, parse(VerifyBackupJobData, job).name);
    case BACKUP_JOBS.list:
      return listBackups(deps);
    default:
      throw new UnrecoverableError(`unknown job "${job.name}" on the backup queue`);
  }
}

/**
 * One processor for the backup queue. A missing, corrupt or too-new backup fails at once (the
 * same bytes fail the same way on every retry); anything else (the lock, S3, the disk) retries.
 */
export function createBackupProcessor(deps: BackupDeps) {
  return async (job: Job): Promise<unknown> => {
    try {
      return await run(deps, job);
    } catch (error) {
      if (
        error instanceof BackupNotFoundError ||
        error instanceof BackupCorruptError ||
        error instanceof BackupTooNewError
      ) {
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
  };
}
