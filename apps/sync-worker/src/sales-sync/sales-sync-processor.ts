import { rm } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { type DatabaseWriter, ImportFailedError, ImportSupersededError } from '@datasync/db';
import { type EnvConfig, SalesSyncJobData, type SalesSyncResult } from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { ChunkLimits } from './csv-file.js';
import { InvalidCsvFileError } from './csv-file.js';
import { DEFAULT_CHUNK_LIMITS, endCsvImport, ImportBusyError, importSalesCsv } from './csv-import.js';
import { type SqlSourceConfig, SqlSourceError, syncFromSql } from './sql-source.js';
import type { UpstreamClientOptions } from './upstream-client.js';
import { UpstreamError } from './upstream-client.js';
import { syncFromUpstream } from './upstream-sync.js';

export interface SalesSyncProcessorDeps {
  writer: DatabaseWriter;
  config: Pick<
    EnvConfig,
    'IMPORT_DIR' | 'SALES_API_URL' | 'SALES_API_KEY' | 'SALES_API_TIMEOUT_MS' | 'SALES_API_MAX_RETRIES'
  > &
    Partial<Pick<EnvConfig, 'CSV_CHUNK_ROWS'>> &
    Partial<SqlSourceConfig>;
  logger: Logger;
  csvLimits?: ChunkLimits;
  upstream?: Partial<UpstreamClientOptions>;
}

/** The job names a file the api saved under IMPORT_DIR, never any other path. */
function importFile(file: string, importDir: string): string {
  const path = resolve(file);
  const rel = relative(resolve(importDir), path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new UnrecoverableError('the import file must be under IMPORT_DIR');
  }
  return path;
}

/**
 * The sales-sync queue's processor: `source: csv` imports an uploaded file, `source: api` pulls
 * from the upstream API. The uploaded file is deleted once its import is committed, or when the
 * job will not be tried again (a file that cannot be imported, or the last attempt); while retries
 * remain it stays, so the retry resumes the import.
 */
export function createSalesSyncProcessor(deps: SalesSyncProcessorDeps) {
  return async (job: Job): Promise<SalesSyncResult> => {
    const parsed = SalesSyncJobData.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed sales-sync job ${job.id}`);
    const data = parsed.data;
    const log = deps.logger.child({ jobId: job.id, queue: job.queueName, source: data.source });
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const onProgress = (percent: number) => job.updateProgress(percent);

    if (data.source === 'api') {
      try {
        const result = await syncFromUpstream(
          {
            writer: deps.writer,
            logger: log,
            config: deps.config,
            ...(deps.upstream ? { client: deps.upstream } : {}),
          },
          { runId: job.id!, url: data.url, days: data.days, onProgress },
        );
        log.info({ ...result, warnings: result.warnings.length }, 'upstream sync committed');
        return result;
      } catch (error) {
        if (error instanceof UpstreamError && error.permanent) throw new UnrecoverableError(error.message);
        throw error;
      }
    }

    if (data.source === 'sql') {
      try {
        const result = await syncFromSql(
          { writer: deps.writer, logger: log, config: sqlConfig(deps.config) },
          { runId: job.id!, onProgress },
        );
        const { pages, received, accepted, rejected, watermark, durationMs } = result;
        log.info({ pages, received, accepted, rejected, watermark, durationMs }, 'sql sync committed');
        return result;
      } catch (error) {
        if (error instanceof SqlSourceError && error.permanent) throw new UnrecoverableError(error.message);
        throw error;
      }
    }

    const file = importFile(data.file, deps.config.IMPORT_DIR);
    try {
      const result = await importSalesCsv(
        {
          writer: deps.writer,
          logger: log,
          workDir: join(deps.config.IMPORT_DIR, '.chunks'),
          limits: deps.csvLimits ?? {
            ...DEFAULT_CHUNK_LIMITS,
            rows: deps.config.CSV_CHUNK_ROWS ?? DEFAULT_CHUNK_LIMITS.rows,
          },
        },
        {
          importId: job.id!,
          file,
          fileName: data.originalName ?? basename(file),
          force: data.force,
          format: data.format,
          onProgress,
        },
      );
      await rm(file, { force: true });
      const { received, accepted, rejected, duplicates, durationMs, rowsPerSecond } = result;
      log.info(
        { received, accepted, rejected, duplicates, durationMs, rowsPerSecond },
        'csv import committed',
      );
      return result;
    } catch (error) {
      const final =
        error instanceof InvalidCsvFileError ||
        error instanceof ImportSupersededError ||
        error instanceof ImportFailedError;
      if (final || lastAttempt || error instanceof UnrecoverableError) await rm(file, { force: true });
      if (error instanceof InvalidCsvFileError) {
        // Wherever it was found (a resume checks the file again): the import ends, once. A no-op
        // when the import never started or has already ended.
        await endCsvImport(deps.writer, job.id!, error.message).catch((e: unknown) =>
          log.error({ err: e }, 'could not record the failed csv import'),
        );
      }
      if (!final && lastAttempt && !(error instanceof ImportBusyError)) {
        // No attempt is left to resume it: the import ends failed rather than stay `running`, and
        // the job says so in words for the user (the error itself may name server paths).
        log.error({ err: error }, 'csv import failed on its last attempt');
        const reason =
          'the import failed on its last attempt (the worker log has the cause); nothing of the file was stored: upload it again';
        await endCsvImport(deps.writer, job.id!, reason).catch((e: unknown) =>
          log.error({ err: e }, 'could not record the failed csv import'),
        );
        throw new Error(reason, { cause: error });
      }
      throw final ? new UnrecoverableError((error as Error).message) : error;
    }
  };
}

/** The SQL source's settings, with the env schema's defaults when a caller left them out. */
function sqlConfig(config: Partial<SqlSourceConfig>): SqlSourceConfig {
  return {
    SALES_DB_URL: config.SALES_DB_URL,
    SALES_DB_TABLE: config.SALES_DB_TABLE,
    SALES_DB_QUERY: config.SALES_DB_QUERY,
    SALES_DB_CURSOR: config.SALES_DB_CURSOR ?? 'updated_at',
    SALES_DB_KEY: config.SALES_DB_KEY ?? 'id',
    SALES_DB_PAGE_ROWS: config.SALES_DB_PAGE_ROWS ?? 10_000,
    SALES_DB_LOOKBACK: config.SALES_DB_LOOKBACK ?? 0,
  };
}
