import type { DuckDBConnection } from '@duckdb/node-api';
import { migration as m1 } from './migrations/0001-core.js';
import { migration as m2 } from './migrations/0002-sales-sync.js';
import { migration as m3 } from './migrations/0003-users.js';
import { migration as m4 } from './migrations/0004-operations.js';
import { migration as m5 } from './migrations/0005-csv-import-failures.js';
import { migration as m6 } from './migrations/0006-stream-entries.js';
import { migration as m7 } from './migrations/0007-legacy-migration.js';
import { migration as m9 } from './migrations/0009-sql-cursors.js';
import { migration as m10 } from './migrations/0010-sales-daily.js';

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

export const MIGRATIONS: readonly Migration[] = [m1, m2, m3, m4, m5, m6, m7, m9, m10].filter(
  (m) => m.sql.trim() !== '',
);

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
