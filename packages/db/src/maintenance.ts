import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Writes the WAL into the database file now. Run between a bulk import's chunks (the WAL would
 * otherwise grow until the writer hands the database over) and before a backup copies the file.
 */
export async function checkpoint(conn: DuckDBConnection): Promise<void> {
  await conn.run('CHECKPOINT');
}
