import type { DuckDBConnection } from '@duckdb/node-api';
import type { ChunkCounts } from './csv-chunk-types.js';
import { deleteSales } from './sales-rollup.js';
import type { WriteContext } from './writer.js';

/**
 * The CSV import ledger (`csv_imports`): dedup by file hash, chunk progress for a resume, and the
 * end of an import (done or failed). Every check-then-write here runs inside one write
 * transaction under the single writer lock, so no constraint is needed to keep ids unique (see
 * migrations.ts). The rows of a chunk are written by csv-chunk.ts in the same transaction.
 */

/** The import was replaced by a newer import of the same file (forced, or after it was abandoned). */
export class ImportSupersededError extends Error {
  override readonly name = 'ImportSupersededError';
}

/** The import failed before (a redelivered job): its recorded reason. */
export class ImportFailedError extends Error {
  override readonly name = 'ImportFailedError';
}

export interface CsvImportRecord {
  importId: string;
  sha256: string;
  fileName: string | null;
  forced: boolean;
  state: 'running' | 'done' | 'superseded' | 'failed';
  chunkRows: number;
  chunkBytes: number;
  chunksDone: number;
  received: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  updatedAt: Date;
  finishedAt: Date | null;
  /** Why the import failed (state `failed`), for the user. */
  error: string | null;
}

export interface CsvImportStart {
  importId: string;
  sha256: string;
  fileName: string | null;
  bytes: number;
  force: boolean;
  chunkRows: number;
  chunkBytes: number;
  /** A running import of the same file not advanced for this long is taken to be abandoned. */
  staleAfterMs: number;
}

export type CsvImportClaim =
  /** The same file was imported before (and this import is not forced): nothing to do. */
  | { kind: 'duplicate'; of: CsvImportRecord }
  /** This import already finished (a redelivered job): its record holds the result. */
  | { kind: 'finished'; record: CsvImportRecord }
  /** Another import of the same file is under way. */
  | { kind: 'busy'; other: CsvImportRecord }
  /** This import committed `chunksDone` chunks before it was interrupted. */
  | { kind: 'resume'; record: CsvImportRecord }
  | { kind: 'started'; record: CsvImportRecord; superseded: string[] };

const IMPORT_COLUMNS = `import_id, file_sha256, file_name, forced, state, chunk_rows, chunk_bytes, chunks_done,
  received, accepted, rejected, duplicates, epoch_ms(updated_at) AS updated_ms, epoch_ms(finished_at) AS finished_ms, error`;

function toImportRecord(row: Record<string, unknown>): CsvImportRecord {
  return {
    importId: String(row.import_id),
    sha256: String(row.file_sha256),
    fileName: row.file_name === null ? null : String(row.file_name),
    forced: Boolean(row.forced),
    state: String(row.state) as CsvImportRecord['state'],
    chunkRows: Number(row.chunk_rows),
    chunkBytes: Number(row.chunk_bytes),
    chunksDone: Number(row.chunks_done),
    received: Number(row.received),
    accepted: Number(row.accepted),
    rejected: Number(row.rejected),
    duplicates: Number(row.duplicates),
    updatedAt: new Date(Number(row.updated_ms)),
    finishedAt: row.finished_ms === null ? null : new Date(Number(row.finished_ms)),
    error: row.error === null ? null : String(row.error),
  };
}

async function importsWhere(conn: DuckDBConnection, where: string, params: string[]) {
  const reader = await conn.runAndReadAll(
    `SELECT ${IMPORT_COLUMNS} FROM csv_imports WHERE ${where} ORDER BY started_at`,
    params,
  );
  return reader.getRowObjects().map(toImportRecord);
}

export async function findCsvImport(
  conn: DuckDBConnection,
  importId: string,
): Promise<CsvImportRecord | null> {
  return (await importsWhere(conn, 'import_id = $1', [importId]))[0] ?? null;
}

/**
 * Decides what an import of a file does, and records a new one as running. A new import of a file
 * whose earlier import was abandoned (or, when forced, any earlier import of it) takes its place:
 * the earlier import's rows and rejects are deleted in this transaction, so the file's rows are
 * never stored twice.
 */
export async function claimCsvImport(tx: WriteContext, start: CsvImportStart): Promise<CsvImportClaim> {
  const { conn } = tx;
  const own = await findCsvImport(conn, start.importId);
  if (own?.state === 'done') return { kind: 'finished', record: own };
  if (own?.state === 'failed') throw new ImportFailedError(own.error ?? 'the import failed');
  if (own?.state === 'superseded') {
    throw new ImportSupersededError(
      `import ${start.importId} was replaced by a newer import of the same file`,
    );
  }
  if (own) return { kind: 'resume', record: own };

  const others = await importsWhere(
    conn,
    `file_sha256 = $1 AND state NOT IN ('superseded', 'failed') AND import_id <> $2`,
    [start.sha256, start.importId],
  );
  const done = others.filter((o) => o.state === 'done');
  if (!start.force && done.length > 0) return { kind: 'duplicate', of: done[done.length - 1]! };
  const now = Date.now();
  const busy = others.find((o) => o.state === 'running' && now - o.updatedAt.getTime() < start.staleAfterMs);
  if (busy) return { kind: 'busy', other: busy };

  const superseded = others.map((o) => o.importId);
  for (const id of superseded) {
    await deleteSales(conn, `source = 'csv' AND batch_id = $1`, [id]);
    await conn.run(`DELETE FROM rejects WHERE kind = 'csv' AND batch_id = $1`, [id]);
    await conn.run(`UPDATE csv_imports SET state = 'superseded', updated_at = now() WHERE import_id = $1`, [
      id,
    ]);
  }
  await conn.run(
    `INSERT INTO csv_imports VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, 0, 0, 0, 0, 0, $8, now(), now(), NULL, NULL)`,
    [
      start.importId,
      start.sha256,
      start.fileName,
      start.bytes,
      start.force,
      start.chunkRows,
      start.chunkBytes,
      tx.epoch,
    ],
  );
  return { kind: 'started', record: (await findCsvImport(conn, start.importId))!, superseded };
}

/**
 * Records a committed chunk in the same transaction as its rows; `last` finishes the import.
 * Throws ImportSupersededError when the import is no longer the running one, which rolls the
 * chunk back.
 */
export async function recordCsvChunk(
  tx: WriteContext,
  importId: string,
  chunk: ChunkCounts & { received: number },
  last: boolean,
): Promise<CsvImportRecord> {
  const updated = await tx.conn.run(
    `UPDATE csv_imports SET chunks_done = chunks_done + 1, received = received + $2, accepted = accepted + $3,
       rejected = rejected + $4, duplicates = duplicates + $5, writer_epoch = $6, updated_at = now(),
       state = CASE WHEN $7 THEN 'done' ELSE state END, finished_at = CASE WHEN $7 THEN now() END
     WHERE import_id = $1 AND state = 'running'`,
    [importId, chunk.received, chunk.accepted, chunk.rejected, chunk.duplicates, tx.epoch, last],
  );
  if (updated.rowsChanged !== 1) {
    throw new ImportSupersededError(`import ${importId} is no longer running: it was replaced`);
  }
  return (await findCsvImport(tx.conn, importId))!;
}

/**
 * Ends a running import that will not be tried again: its rows and rejects are deleted (a file
 * is imported whole or not at all) and its record says why. Returns false when the import is not
 * running (it never started, finished, or was replaced).
 */
export async function failCsvImport(tx: WriteContext, importId: string, reason: string): Promise<boolean> {
  const { conn } = tx;
  const updated = await conn.run(
    `UPDATE csv_imports SET state = 'failed', error = $2, writer_epoch = $3, updated_at = now(), finished_at = now()
     WHERE import_id = $1 AND state = 'running'`,
    [importId, reason, tx.epoch],
  );
  if (updated.rowsChanged !== 1) return false;
  await deleteSales(conn, `source = 'csv' AND batch_id = $1`, [importId]);
  await conn.run(`DELETE FROM rejects WHERE kind = 'csv' AND batch_id = $1`, [importId]);
  return true;
}
