import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CsvImportRecord,
  checkpoint,
  claimCsvImport,
  type DatabaseWriter,
  failCsvImport,
} from '@datasync/db';
import { type CsvImportResult, latestSaleDate, type SalesFileFormat } from '@datasync/schemas';
import type { Logger } from 'pino';
import { commitChunk, type PreparedChunk } from './csv-chunk-commit.js';
import { writeChunkFile } from './csv-chunk-files.js';
import { type ChunkLimits, type ChunkPlan, type CsvFileInfo, InvalidCsvFileError } from './csv-file.js';
import { detectFileFormat, inspectSalesFile } from './sales-file.js';

/**
 * Imports a sales CSV: the file is checked in one streaming pass (hash, UTF-8, header, quotes,
 * record lines, chunk plan) before anything is stored; then each chunk is copied to a chunk file
 * and committed in its own transaction (DuckDB reads and validates it, rows and rejects and the
 * ledger's progress commit together). Between chunks the writer hands the lock over to any
 * process waiting, so a backup waits at most one chunk. A killed worker resumes after the last
 * committed chunk; the same file imported again is a no-op unless forced.
 */

/**
 * Half a million rows of ~60 bytes commit in about a second here: about the longest a process
 * waiting for the writer lock (a backup) waits behind an import (the benchmark measures it).
 * Larger chunks are faster (DuckDB reads and writes a small file with less parallelism: a 1M-row
 * file imports ~10 % faster as one chunk) but make that wait longer and the worker's memory
 * higher (peak RSS for 10M rows at DUCKDB_MEMORY_LIMIT=128MB: 436 MB with 500k, 481 MB with 1M).
 */
export const DEFAULT_CHUNK_LIMITS: ChunkLimits = { rows: 500_000, bytes: 32 * 1024 * 1024 };

export const DEFAULT_CHECKPOINT_ROWS = 1_000_000;

export interface CsvImportDeps {
  writer: DatabaseWriter;
  logger: Logger;
  /** Where chunk files go while the import runs (a folder of IMPORT_DIR). */
  workDir: string;
  limits?: ChunkLimits;
  /** A running import of the same file that has not committed a chunk for this long is abandoned. */
  staleAfterMs?: number;
  /**
   * CHECKPOINT between chunks after this many rows (0: never). Bulk rows wait in DuckDB until a
   * checkpoint, which the writer otherwise runs when it hands the database over: after 10M rows
   * that took 10-20 s here, all of it holding up the process waiting for the lock.
   */
  checkpointRows?: number;
}

export interface CsvImportJob {
  importId: string;
  file: string;
  fileName: string | null;
  force: boolean;
  /** How to read the file; by default found from its content (sales-file.ts). */
  format?: SalesFileFormat | undefined;
  onProgress?: (percent: number) => unknown;
}

/** Another import of the same file is running: retry later (the job's backoff does). */
export class ImportBusyError extends Error {
  override readonly name = 'ImportBusyError';
}

export async function importSalesCsv(deps: CsvImportDeps, job: CsvImportJob): Promise<CsvImportResult> {
  const started = performance.now();
  const limits = deps.limits ?? DEFAULT_CHUNK_LIMITS;
  const format = job.format ?? (await detectFileFormat(job.file));
  let info = await inspectSalesFile(job.file, format, limits);
  deps.logger.debug(
    { ms: Math.round(performance.now() - started), chunks: info.chunks.length },
    'csv file inspected',
  );
  const claim = await deps.writer.transaction((tx) =>
    claimCsvImport(tx, {
      importId: job.importId,
      sha256: info.sha256,
      fileName: job.fileName,
      bytes: info.bytes,
      force: job.force,
      chunkRows: limits.rows,
      chunkBytes: limits.bytes,
      staleAfterMs: deps.staleAfterMs ?? 10 * 60_000,
    }),
  );
  const result = (record: CsvImportRecord, warnings: string[], duplicateOf: string | null = null) => {
    const durationMs = Math.round(performance.now() - started);
    return {
      source: 'csv' as const,
      importId: job.importId,
      format,
      sha256: info.sha256,
      received: record.received,
      accepted: duplicateOf ? 0 : record.accepted,
      rejected: duplicateOf ? 0 : record.rejected,
      duplicates: duplicateOf ? record.received : record.duplicates,
      duplicateOf,
      chunks: duplicateOf ? 0 : record.chunksDone,
      durationMs,
      rowsPerSecond: Math.round(record.received / Math.max(durationMs / 1000, 0.001)),
      warnings,
    };
  };
  if (claim.kind === 'duplicate') {
    return result(
      claim.of,
      [`the same file was imported before (import ${claim.of.importId})`],
      claim.of.importId,
    );
  }
  if (claim.kind === 'finished') return result(claim.record, []);
  if (claim.kind === 'busy') {
    throw new ImportBusyError(
      `the same file is being imported by import ${claim.other.importId}; retrying later`,
    );
  }
  const record = claim.record;
  if (record.chunkRows !== limits.rows || record.chunkBytes !== limits.bytes) {
    // A resume cuts the file as the import started: plan again with those limits.
    info = await inspectSalesFile(job.file, format, { rows: record.chunkRows, bytes: record.chunkBytes });
  }
  if (claim.kind === 'started' && claim.superseded.length > 0) {
    deps.logger.info(
      { superseded: claim.superseded },
      'csv import replaces earlier imports of the same file',
    );
  }

  const dir = join(deps.workDir, job.importId.replace(/[^A-Za-z0-9._-]/g, '_'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const warnings: string[] = [];
  const latest = latestSaleDate();
  let final = record;
  const checkpointRows = deps.checkpointRows ?? DEFAULT_CHECKPOINT_ROWS;
  let sinceCheckpoint = 0;
  const todo = info.chunks.filter((c) => c.index >= record.chunksDone);
  const empty = { count: 0 };
  const ctx = {
    writer: deps.writer,
    logger: deps.logger,
    importId: job.importId,
    info,
    latest,
    warnings,
    source: job.file,
    empty,
  };
  // The next chunk file is copied while the current one commits. Staging is not done ahead: a
  // read in flight would keep the writer from handing the lock to a waiting process.
  // A file of one chunk without a BOM is read where it is, unless it must be rewritten.
  const only = info.chunks.length === 1 ? info.chunks[0]! : null;
  // A Parquet file is always read where it is (its chunks are ranges of rows).
  const whole =
    info.format === 'parquet' ||
    (only !== null &&
      only.start === info.headerBytes.length &&
      !info.normalize &&
      only.setAside.length === 0);
  const chunkFile = async (chunk: ChunkPlan): Promise<PreparedChunk> => ({
    path: whole ? job.file : await writeChunkFile(job.file, info, chunk, dir),
    copy: !whole,
  });
  let next = todo[0] ? chunkFile(todo[0]) : null;
  try {
    for (let i = 0; i < todo.length; i++) {
      const chunk = todo[i]!;
      const file = await next!;
      next = todo[i + 1] ? chunkFile(todo[i + 1]!) : null;
      next?.catch(() => undefined);
      const t0 = performance.now();
      final = await commitChunk(ctx, chunk, file, chunk.index === info.chunks.length - 1);
      deps.logger.debug(
        { chunk: chunk.index, records: chunk.records, ms: Math.round(performance.now() - t0) },
        'csv chunk committed',
      );
      sinceCheckpoint += chunk.records;
      if (checkpointRows > 0 && sinceCheckpoint >= checkpointRows && i + 1 < todo.length) {
        await deps.writer.read(checkpoint);
        sinceCheckpoint = 0;
      }
      const done = info.format === 'parquet' ? chunk.end / Math.max(info.records, 1) : chunk.end / info.bytes;
      await job.onProgress?.(Math.round(100 * done));
    }
  } catch (error) {
    // A file that cannot be imported ends its import here, once, with the reason on its record.
    if (error instanceof InvalidCsvFileError) await endCsvImport(deps.writer, job.importId, error.message);
    throw error;
  } finally {
    await next?.catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  if (final.received !== final.accepted + final.rejected) {
    const reason = `the import counted ${final.received} records but accepted ${final.accepted} and rejected ${final.rejected}; nothing of the file was stored`;
    await endCsvImport(deps.writer, job.importId, reason);
    throw new InvalidCsvFileError(reason);
  }
  return result(final, [...warnings, ...fileWarnings(info, empty.count)]);
}

/** Fails a running import for good (its rows and rejects deleted): see failCsvImport. */
export async function endCsvImport(writer: DatabaseWriter, importId: string, reason: string): Promise<void> {
  await writer.transaction((tx) => failCsvImport(tx, importId, reason));
}

/** What the user should know about a file that imported: nothing in it, records set aside. */
function fileWarnings(info: CsvFileInfo, emptyRows: number): string[] {
  const warnings: string[] = [];
  if (info.records === 0 && info.format) warnings.push('the file holds no records: nothing was imported');
  else if (info.records === 0)
    warnings.push('the file has a header row but no records: nothing was imported');
  if (info.setAside.notUtf8 > 0) {
    warnings.push(
      `${info.setAside.notUtf8} record(s) hold bytes that are not UTF-8 and were rejected: if the file was saved in another encoding (Windows-1252, Latin-1), save it as CSV UTF-8`,
    );
  }
  if (emptyRows > 0 && info.format === 'ndjson') warnings.push(`${emptyRows} blank line(s) were skipped`);
  else if (emptyRows > 0)
    warnings.push(`${emptyRows} row(s) with every cell empty were skipped, as blank lines are`);
  return warnings;
}
