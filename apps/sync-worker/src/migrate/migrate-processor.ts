import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { type DatabaseWriter, MigrationSourceError } from '@datasync/db';
import { type EnvConfig, MigrateJobData, type MigrationReport } from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { importFileOf } from '../user-import/user-import-processor.js';
import { migrateLegacyDatabase } from './migrate-legacy.js';

export interface MigrateProcessorDeps {
  writer: DatabaseWriter;
  config: Pick<EnvConfig, 'IMPORT_DIR' | 'CSV_CHUNK_ROWS'>;
  logger: Logger;
}

/**
 * The `migrate` job (on the sales-sync queue): the uploaded old database is migrated, and deleted
 * once the run is over or will not be tried again; while retries remain it stays, so a retry
 * resumes after the last committed chunk.
 */
export function createMigrateProcessor(deps: MigrateProcessorDeps) {
  return async (job: Job): Promise<MigrationReport> => {
    const parsed = MigrateJobData.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed migrate job ${job.id}`);
    const data = parsed.data;
    const file = importFileOf(data.file, deps.config.IMPORT_DIR);
    const log = deps.logger.child({ jobId: job.id, queue: job.queueName });
    try {
      const report = await migrateLegacyDatabase(
        { writer: deps.writer, logger: log, chunkRows: deps.config.CSV_CHUNK_ROWS },
        {
          jobId: job.id!,
          file,
          fileName: data.originalName ?? basename(file),
          dryRun: data.dryRun,
          map: data.map,
          onProgress: (percent) => job.updateProgress(percent),
        },
      );
      await rm(file, { force: true });
      log.info(
        {
          migrationId: report.migrationId,
          dryRun: report.dryRun,
          tables: report.tables.map(
            (t) => `${t.table}: read ${t.read}, stored ${t.stored}, rejected ${t.rejected}`,
          ),
          differences: report.differences.length,
          durationMs: report.durationMs,
        },
        'migration from the old database finished',
      );
      return report;
    } catch (error) {
      const final = error instanceof MigrationSourceError || error instanceof UnrecoverableError;
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final || lastAttempt) await rm(file, { force: true });
      throw error instanceof MigrationSourceError ? new UnrecoverableError(error.message) : error;
    }
  };
}
