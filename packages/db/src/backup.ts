import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { checkpoint } from './maintenance.js';

/**
 * SQL for backups: reading what a database file holds (for the manifest and for verification),
 * and preparing a file before it is swapped in by a restore. Each function opens the file with an
 * instance of its own and closes it (every connection disconnected first, so the OS lock goes);
 * none of them may be pointed at the live DATABASE_PATH outside `DatabaseWriter.exclusive`.
 */

export interface DatabaseFileInspection {
  /** Row count per table of the main schema, by name. */
  tables: Record<string, number>;
  /** The highest migration recorded in schema_migrations (0 when there is none). */
  schemaVersion: number;
  duckdbVersion: string;
}

async function withDatabaseFile<T>(
  path: string,
  readOnly: boolean,
  fn: (conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(path, {
    access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE',
    threads: '2',
  });
  let conn: DuckDBConnection | null = null;
  try {
    conn = await instance.connect();
    return await fn(conn);
  } finally {
    conn?.disconnectSync();
    instance.closeSync();
  }
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Opens a database file read-only and counts its rows: proves it opens and answers. */
export function inspectDatabaseFile(path: string): Promise<DatabaseFileInspection> {
  return withDatabaseFile(path, true, async (conn) => {
    const tableRows = await conn.runAndReadAll(
      `SELECT table_name FROM duckdb_tables()
       WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
       ORDER BY table_name`,
    );
    const names = tableRows.getRowObjects().map((row) => String(row.table_name));
    const tables: Record<string, number> = {};
    for (const name of names) {
      const reader = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${quoteIdentifier(name)}`);
      tables[name] = Number(reader.getRowObjects()[0]?.n ?? 0);
    }
    let schemaVersion = 0;
    if (names.includes('schema_migrations')) {
      const reader = await conn.runAndReadAll(
        'SELECT coalesce(max(version), 0)::INTEGER AS v FROM schema_migrations',
      );
      schemaVersion = Number(reader.getRowObjects()[0]?.v ?? 0);
    }
    const version = await conn.runAndReadAll('SELECT version() AS v');
    return { tables, schemaVersion, duckdbVersion: String(version.getRowObjects()[0]?.v ?? '') };
  });
}

/** Folds a write-ahead log left beside a copied file into it, so the file stands alone. */
export function checkpointDatabaseFile(path: string): Promise<void> {
  return withDatabaseFile(path, false, async (conn) => {
    await checkpoint(conn);
  });
}

/**
 * Makes a restored file ready to be swapped in: its writer fence goes back to 0, so the first
 * holder after the swap (whatever epoch the lock's counter has reached, even on another Redis)
 * can commit; then a checkpoint so no log travels with it.
 */
export function prepareRestoredDatabaseFile(path: string): Promise<void> {
  return withDatabaseFile(path, false, async (conn) => {
    const fence = await conn.runAndReadAll(
      `SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name = 'writer_fence'`,
    );
    if (Number(fence.getRowObjects()[0]?.n ?? 0) > 0) await conn.run('UPDATE writer_fence SET epoch = 0');
    await checkpoint(conn);
  });
}

/** A batch in the ingest ledger: what a restore that rolls it back reports, and how to find its idempotency record. */
export interface LedgerBatch {
  batchId: string;
  source: string;
  kind: string;
  idempotencyKeyHash: string | null;
  bodyHash: string;
  received: number;
  stored: number;
  rejected: number;
  committedAt: string;
}

const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * The batches the ledger of `replacedPath` holds and that of `restoredPath` does not: what
 * swapping the one for the other rolls back. Both files are only read (attached read-only to an
 * in-memory database); a file without a ledger (new, or older than the ledger) has no batches.
 */
export async function batchesOnlyIn(replacedPath: string, restoredPath: string): Promise<LedgerBatch[]> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  let conn: DuckDBConnection | null = null;
  try {
    conn = await instance.connect();
    await conn.run(`ATTACH ${quoteLiteral(replacedPath)} AS replaced (READ_ONLY)`);
    await conn.run(`ATTACH ${quoteLiteral(restoredPath)} AS restored (READ_ONLY)`);
    const ledgers = await conn.runAndReadAll(
      `SELECT database_name FROM duckdb_tables()
       WHERE table_name = 'ingest_batches' AND schema_name = 'main' AND database_name IN ('replaced', 'restored')`,
    );
    const has = new Set(ledgers.getRowObjects().map((r) => String(r.database_name)));
    if (!has.has('replaced')) return [];
    const restoredLedger = has.has('restored')
      ? 'SELECT batch_id FROM restored.ingest_batches'
      : 'SELECT NULL::VARCHAR AS batch_id WHERE false';
    const reader = await conn.runAndReadAll(
      `SELECT batch_id, source, kind, idempotency_key_hash, body_hash, received, stored, rejected,
              epoch_ms(committed_at) AS committed_ms
       FROM replaced.ingest_batches
       WHERE batch_id NOT IN (${restoredLedger})
       ORDER BY committed_at, batch_id`,
    );
    return reader.getRowObjects().map((row) => ({
      batchId: String(row.batch_id),
      source: String(row.source),
      kind: String(row.kind),
      idempotencyKeyHash: row.idempotency_key_hash === null ? null : String(row.idempotency_key_hash),
      bodyHash: String(row.body_hash),
      received: Number(row.received),
      stored: Number(row.stored),
      rejected: Number(row.rejected),
      committedAt: new Date(Number(row.committed_ms)).toISOString(),
    }));
  } finally {
    conn?.disconnectSync();
    instance.closeSync();
  }
}
