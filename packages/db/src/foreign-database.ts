import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { isFileLockError } from './errors.js';
import { migrate } from './migrations.js';

/** A table (or view) in a database file that this system's migrations did not create. */
export interface ForeignTable {
  name: string;
  columns: string[];
  /** Why it counts as foreign: an unknown name, or a name of ours with columns we never created. */
  reason: 'unknown table' | 'unknown columns' | 'no migration recorded';
}

/**
 * The database at DATABASE_PATH holds tables this system did not create (the old script's
 * `sales`/`users`, or anything else). Nothing was altered; the message names the tables, the path
 * and the command that migrates the data.
 */
export class ForeignDatabaseError extends Error {
  override readonly name = 'ForeignDatabaseError';
  constructor(
    readonly path: string,
    readonly tables: ForeignTable[],
  ) {
    super(foreignDatabaseMessage(path, tables));
  }
}

export function foreignDatabaseMessage(path: string, tables: ForeignTable[]): string {
  const absolute = resolve(path);
  const aside = join(dirname(absolute), 'old.duckdb');
  const found = tables
    .map(
      (t) =>
        `  ${t.name} (${t.columns.join(', ')})${t.reason === 'unknown columns' ? ': columns datasync never created' : ''}`,
    )
    .join('\n');
  return [
    `DATABASE_PATH ${absolute} holds tables datasync did not create:`,
    found,
    "It was left untouched. If it is the old script's database, move it aside and migrate its data:",
    `  stop datasync; mv ${absolute} ${aside}; start datasync (it creates a new, empty database)`,
    `  datasync migrate --from ${aside}`,
    'or point DATABASE_PATH at another file. See docs/operations.md, "From the old script\'s database".',
  ].join('\n');
}

let expected: Promise<Map<string, Set<string>>> | null = null;

/** Every table and its columns as the migrations create them (built once in memory, so it cannot drift). */
function expectedSchema(): Promise<Map<string, Set<string>>> {
  expected ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      await migrate(conn);
      return await tableColumns(conn);
    } finally {
      conn.disconnectSync();
      instance.closeSync();
    }
  })();
  return expected;
}

async function tableColumns(conn: DuckDBConnection): Promise<Map<string, Set<string>>> {
  const reader = await conn.runAndReadAll(
    `SELECT table_schema, table_name, column_name FROM information_schema.columns
     WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position`,
  );
  const tables = new Map<string, Set<string>>();
  for (const row of reader.getRowObjects()) {
    const schema = String(row.table_schema);
    const name = schema === 'main' ? String(row.table_name) : `${schema}.${String(row.table_name)}`;
    const columns = tables.get(name) ?? new Set<string>();
    columns.add(String(row.column_name));
    tables.set(name, columns);
  }
  return tables;
}

/**
 * The tables of the connection's current database that the migrations did not create: unknown
 * names, known names with columns no migration created (the old script's `sales` has `id`), and,
 * when no migration was ever recorded, every table (our first migration records itself with its
 * tables, so such a file was written by someone else).
 */
export async function findForeignTables(conn: DuckDBConnection): Promise<ForeignTable[]> {
  const ours = await expectedSchema();
  const found = await tableColumns(conn);
  let recorded = 0;
  if (found.has('schema_migrations')) {
    const reader = await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM schema_migrations');
    recorded = Number(reader.getRowObjects()[0]?.n ?? 0);
  }
  const foreign: ForeignTable[] = [];
  for (const [name, columns] of found) {
    const known = ours.get(name);
    const list = [...columns];
    if (!known) foreign.push({ name, columns: list, reason: 'unknown table' });
    else if (list.some((c) => !known.has(c)))
      foreign.push({ name, columns: list, reason: 'unknown columns' });
    else if (recorded === 0 && name !== 'schema_migrations') {
      foreign.push({ name, columns: list, reason: 'no migration recorded' });
    }
  }
  return foreign;
}

export type DatabaseFileCheck =
  | { state: 'absent' }
  | { state: 'ours' }
  | { state: 'in-use' }
  | { state: 'foreign'; tables: ForeignTable[] }
  | { state: 'unreadable'; error: string };

/**
 * Looks at the file at `path` read-only, before any process of ours migrates it. A file held open
 * by another process (a running datasync worker) is `in-use`: the writer checks again on open.
 */
export async function checkDatabaseFile(path: string): Promise<DatabaseFileCheck> {
  if (!existsSync(path) || statSync(path).size === 0) return { state: 'absent' };
  // Built before the file is opened: a worker of ours opening it meanwhile waits as short as can be.
  await expectedSchema();
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  } catch (error) {
    if (isFileLockError(error)) return { state: 'in-use' };
    return { state: 'unreadable', error: (error as Error).message };
  }
  const conn = await instance.connect();
  try {
    const tables = await findForeignTables(conn);
    return tables.length > 0 ? { state: 'foreign', tables } : { state: 'ours' };
  } finally {
    conn.disconnectSync();
    instance.closeSync();
  }
}

/**
 * For a worker's main.ts, before anything opens the database for writing: a file that holds tables
 * this system did not create (or that DuckDB cannot read) stops the process with exit 78, like a
 * refused configuration, so the supervisor does not restart it in a loop.
 */
export async function exitOnForeignDatabase(processName: string, path: string): Promise<void> {
  const check = await checkDatabaseFile(path);
  if (check.state === 'foreign') {
    process.stderr.write(`${processName}: ${foreignDatabaseMessage(path, check.tables)}\n`);
    process.exit(78);
  }
  if (check.state === 'unreadable') {
    process.stderr.write(
      `${processName}: DATABASE_PATH ${resolve(path)} is not a database datasync can open (${check.error}); it was left untouched\n`,
    );
    process.exit(78);
  }
}
