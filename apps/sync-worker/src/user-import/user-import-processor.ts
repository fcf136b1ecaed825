import { rm } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { DatabaseWriter } from '@datasync/db';
import { type EnvConfig, UserImportJobData, type UserImportResult } from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { importUsers } from './import-users.js';
import { PasswordHasher } from './password-hasher.js';
import { InvalidUserFileError } from './user-csv.js';

export interface UserImportProcessorDeps {
  writer: DatabaseWriter;
  config: Pick<EnvConfig, 'IMPORT_DIR'>;
  logger: Logger;
  /** Defaults to a pool on every core, started on the first import. */
  hasher?: PasswordHasher;
  chunkSize?: number;
}

/** The job names a file: it must be one the api saved under IMPORT_DIR, never any path. */
export function importFileOf(file: string, importDir: string): string {
  const path = resolve(file);
  const rel = relative(resolve(importDir), path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new UnrecoverableError('the import file must be under IMPORT_DIR');
  }
  return path;
}

/**
 * The user-import queue's processor. The uploaded file (it holds plaintext passwords) is deleted
 * once the import is committed, or when the job will not be tried again; while retries remain it
 * stays, so a retry can finish the import.
 */
export function createUserImportProcessor(deps: UserImportProcessorDeps) {
  let hasher = deps.hasher;
  return async (job: Job): Promise<UserImportResult> => {
    const data = UserImportJobData.safeParse(job.data);
    if (!data.success) throw new UnrecoverableError(`malformed user-import job ${job.id}`);
    const file = importFileOf(data.data.file, deps.config.IMPORT_DIR);
    hasher ??= new PasswordHasher();
    const log = deps.logger.child({ jobId: job.id, queue: job.queueName });
    try {
      const result = await importUsers(
        {
          writer: deps.writer,
          hasher,
          logger: log,
          ...(deps.chunkSize ? { chunkSize: deps.chunkSize } : {}),
        },
        {
          importId: `${job.id}@${job.timestamp}`,
          jobId: job.id!,
          file,
          updateExisting: data.data.updateExisting,
          onProgress: (percent) => job.updateProgress(percent),
        },
      );
      await rm(file, { force: true });
      const perSecond =
        (result.counts.created + result.counts.updated) / Math.max(0.001, result.durationMs / 1000);
      log.info(
        { ...result.counts, rows: result.rows, ms: result.durationMs, usersPerSecond: Math.round(perSecond) },
        'user import committed',
      );
      return result;
    } catch (error) {
      const invalid = error instanceof InvalidUserFileError;
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (invalid || lastAttempt || error instanceof UnrecoverableError) await rm(file, { force: true });
      throw invalid ? new UnrecoverableError(error.message) : error;
    }
  };
}
