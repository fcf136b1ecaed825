import { dirname } from 'node:path';
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
import { asStorageError, BackupCorruptError, BackupNotFoundError, BackupTooNewError } from './errors.js';
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
 * same bytes fail the same way on every retry), and so does a folder that is full, over quota,
 * read-only or not writable (a person fixes those, not a retry seconds later): the job fails once
 * and alerts once. Anything else (the lock, S3, Redis) retries.
 */
export function createBackupProcessor(deps: BackupDeps) {
  const folders = [
    { path: deps.local.dir, name: 'the backup folder (BACKUP_DIR)' },
    { path: dirname(deps.writer.path), name: 'the database folder (DATABASE_PATH)' },
  ];
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
      const fallback = job.name === BACKUP_JOBS.restore ? 'a folder the restore writes to' : folders[0]!.name;
      const storage = asStorageError(error, folders, fallback);
      if (storage) {
        deps.logger.error(
          { jobId: job.id, job: job.name, code: storage.code, err: (error as Error).message },
          'storage failure: not retried',
        );
        throw new UnrecoverableError(
          `${job.name} failed: ${storage.message}. Not retried: free space or fix the folder, then run it again; earlier backups and the database are untouched.`,
        );
      }
      throw error;
    }
  };
}
