import { MIGRATION_ALIASES, MIGRATION_FIELDS, type MigrationTable } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './csv-chunk-rejects.js';

/**
 * The old database file, attached read-only to the connection that migrates from it (DuckDB's
 * `ATTACH ... (READ_ONLY)`: nothing can write it), and where each field of ours is in it.
 */

export const LEGACY = 'legacy';

/** The old file cannot be migrated as it is (no such table or column, not a DuckDB file...). */
export class MigrationSourceError extends Error {
  override readonly name = 'MigrationSourceError';
}

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Attaches the old file (again after a writer handover closed the instance). */
export async function attachLegacy(conn: DuckDBConnection, file: string): Promise<void> {
  try {
    await conn.run(`ATTACH IF NOT EXISTS ${sqlString(file)} AS ${LEGACY} (TYPE duckdb, READ_ONLY)`);
  } catch (error) {
    throw new MigrationSourceError(
      `the old database cannot be opened read-only: ${(error as Error).message}`,
    );
  }
}

export async function detachLegacy(conn: DuckDBConnection): Promise<void> {
  await conn.run(`DETACH DATABASE IF EXISTS ${LEGACY}`);
}

/** One old table as the migration reads it: its name there and the old column of each field. */
export interface LegacyTable {
  table: MigrationTable;
  /** The old table's name, null when the file has none (nothing to migrate for it). */
  oldTable: string | null;
  /** Every old column, in order (the raw JSON of a rejected row holds them all). */
  oldColumns: string[];
  /** field -> old column; a field without one is absent (only `id` and `password_hash` may be). */
  columns: Partial<Record<string, string>>;
  rows: number;
  /** One past the largest rowid: chunks are rowid ranges (the file is read-only, so they are stable). */
  rowidEnd: number;
}

export interface LegacyMapping {
  tables: Partial<Record<MigrationTable, string>>;
  columns: Record<string, string>;
}

const OPTIONAL = new Set(['sales.id', 'users.password_hash']);

/** Finds the old tables and columns: mapped names first, else the old guide's names (any case). */
export async function describeLegacy(conn: DuckDBConnection, mapping: LegacyMapping): Promise<LegacyTable[]> {
  const reader = await conn.runAndReadAll(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_catalog = '${LEGACY}' AND table_schema = 'main' ORDER BY table_name, ordinal_position`,
  );
  const found = new Map<string, string[]>();
  for (const row of reader.getRowObjects()) {
    const name = String(row.table_name);
    found.set(name, [...(found.get(name) ?? []), String(row.column_name)]);
  }
  if (found.has('schema_migrations') && found.has('ingest_batches')) {
    throw new MigrationSourceError(
      "this file is a datasync database, not the old script's: migrating it would store its sales twice (a datasync backup is brought back with datasync restore)",
    );
  }
  const lookup = (names: Iterable<string>, wanted: string) =>
    [...names].find((n) => n === wanted) ?? [...names].find((n) => n.toLowerCase() === wanted.toLowerCase());
  const tables: LegacyTable[] = [];
  for (const table of ['sales', 'users'] as const) {
    const mapped = mapping.tables[table];
    const oldTable = lookup(found.keys(), mapped ?? table) ?? null;
    if (mapped && !oldTable) {
      throw new MigrationSourceError(
        `--map ${table}=${mapped}: the old database has no table ${mapped} (tables: ${[...found.keys()].join(', ') || 'none'})`,
      );
    }
    if (!oldTable) {
      tables.push({ table, oldTable: null, oldColumns: [], columns: {}, rows: 0, rowidEnd: 0 });
      continue;
    }
    const oldColumns = found.get(oldTable) ?? [];
    const columns: Partial<Record<string, string>> = {};
    for (const field of MIGRATION_FIELDS[table]) {
      const key = `${table}.${field}`;
      const mappedColumn = mapping.columns[key];
      if (mappedColumn) {
        const column = lookup(oldColumns, mappedColumn);
        if (!column) {
          throw new MigrationSourceError(
            `--map ${key}=${mappedColumn}: the old table ${oldTable} has no column ${mappedColumn} (columns: ${oldColumns.join(', ')})`,
          );
        }
        columns[field] = column;
        continue;
      }
      const column = (MIGRATION_ALIASES[key] ?? [field])
        .map((name) => lookup(oldColumns, name))
        .find(Boolean);
      if (column) columns[field] = column;
      else if (!OPTIONAL.has(key)) {
        throw new MigrationSourceError(
          `the old table ${oldTable} has no column ${field} (columns: ${oldColumns.join(', ')}); name the old column with --map ${table}.${field}=OLD_COLUMN`,
        );
      }
    }
    const count = await conn.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, coalesce(max(rowid) + 1, 0)::BIGINT AS rowid_end
       FROM ${LEGACY}.main.${quoteIdent(oldTable)}`,
    );
    const c = count.getRowObjects()[0]!;
    tables.push({ table, oldTable, oldColumns, columns, rows: Number(c.n), rowidEnd: Number(c.rowid_end) });
  }
  return tables;
}

/** The old table in SQL: `legacy.main."sales"`. */
export const legacyTableSql = (t: LegacyTable) => `${LEGACY}.main.${quoteIdent(t.oldTable!)}`;

/** A field as text from the old row `o` (NULL when the table lacks it). */
export const legacyFieldSql = (t: LegacyTable, field: string) => {
  const column = t.columns[field];
  return column ? `CAST(o.${quoteIdent(column)} AS VARCHAR)` : 'NULL::VARCHAR';
};
