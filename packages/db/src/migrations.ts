import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Numbered migrations, applied in order at open, each in its own transaction with its record in
 * schema_migrations, so a re-run applies only what is missing.
 *
 * No PRIMARY KEY or UNIQUE on the big tables: DuckDB has open reports of WAL replay failing after
 * kill -9 with ART indexes and ON CONFLICT, so dedup is set-based (anti-join, delete-then-insert)
 * under the single writer lock, which makes it race-free.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sales, rejects, ingest ledger, writer fence',
    sql: `
      CREATE TABLE sales (
        source VARCHAR NOT NULL,
        external_id VARCHAR,
        date DATE NOT NULL,
        user_id BIGINT NOT NULL,
        product_name VARCHAR NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price DECIMAL(18,2) NOT NULL,
        total_amount DECIMAL(18,2) NOT NULL,
        region VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE rejects (
        source VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        row_number INTEGER NOT NULL,
        raw VARCHAR NOT NULL,
        reasons VARCHAR NOT NULL,
        rejected_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE ingest_batches (
        batch_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        idempotency_key_hash VARCHAR,
        body_hash VARCHAR NOT NULL,
        received INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        writer_epoch BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE writer_fence (epoch BIGINT NOT NULL);
      INSERT INTO writer_fence VALUES (0);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export async function migrate(conn: DuckDBConnection): Promise<number[]> {
  await conn.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  const reader = await conn.runAndReadAll('SELECT version FROM schema_migrations');
  const applied = new Set(reader.getRowObjects().map((row) => Number(row.version)));
  const done: number[] = [];
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run(migration.sql);
      await conn.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      await conn.run('COMMIT');
    } catch (error) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw new Error(
        `migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    done.push(migration.version);
  }
  return done;
}
