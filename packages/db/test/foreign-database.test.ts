import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkDatabaseFile,
  createOldScriptDatabase,
  ForeignDatabaseError,
  foreignDatabaseMessage,
} from '../src/index.js';
import { commitSalesBatches } from '../src/sales.js';
import { makeBatch, makeWriter } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function dir() {
  const d = tempDir('datasync-foreign-');
  cleanups.push(d.cleanup);
  return d.path;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function sql(path: string, statements: string) {
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  await conn.run(statements);
  conn.disconnectSync();
  instance.closeSync();
}

describe('a database this system did not create', () => {
  it("finds the old script's sales and users, and names them with their columns", async () => {
    const path = join(dir(), 'dashboard.duckdb');
    await createOldScriptDatabase(path, { sales: 10, users: 3 });
    const check = await checkDatabaseFile(path);
    expect(check.state).toBe('foreign');
    if (check.state !== 'foreign') return;
    expect(check.tables.map((t) => t.name).sort()).toEqual(['sales', 'users']);
    expect(check.tables.find((t) => t.name === 'sales')?.columns).toContain('id');
    const message = foreignDatabaseMessage(path, check.tables);
    expect(message).toContain(`DATABASE_PATH ${path} holds tables datasync did not create`);
    expect(message).toContain('sales (id, date, user_id,');
    const aside = join(dirname(path), 'old.duckdb');
    expect(message).toContain(`mv ${path} ${aside}`);
    expect(message).toContain(`datasync migrate --from ${aside}`);
  });

  it('counts old tables as foreign even after a failed start left an empty schema_migrations behind', async () => {
    const path = join(dir(), 'dashboard.duckdb');
    await createOldScriptDatabase(path, { sales: 1 });
    await sql(
      path,
      'CREATE TABLE schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ)',
    );
    const check = await checkDatabaseFile(path);
    expect(check.state === 'foreign' && check.tables.map((t) => t.name).sort()).toEqual(['sales', 'users']);
  });

  it('finds an unknown table beside the tables of a database datasync created', async () => {
    const path = join(dir(), 'dashboard.duckdb');
    const w = makeWriter(path, `lock-foreign-${Date.now()}`);
    await w.writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b-1', 5)]));
    await w.close();
    expect(await checkDatabaseFile(path)).toEqual({ state: 'ours' });

    await sql(path, 'CREATE TABLE my_notes (note VARCHAR)');
    const check = await checkDatabaseFile(path);
    expect(check).toEqual({
      state: 'foreign',
      tables: [{ name: 'my_notes', columns: ['note'], reason: 'unknown table' }],
    });
  });

  it('reports a missing or empty file as absent, and a file DuckDB cannot read as unreadable', async () => {
    const d = dir();
    expect(await checkDatabaseFile(join(d, 'none.duckdb'))).toEqual({ state: 'absent' });
    const junk = join(d, 'junk.duckdb');
    await import('node:fs').then((fs) =>
      fs.writeFileSync(junk, 'SQLite format 3\0 not a duckdb file at all, padded'.repeat(200)),
    );
    expect((await checkDatabaseFile(junk)).state).toBe('unreadable');
  });

  it('the writer refuses to migrate an old database and leaves it byte for byte unchanged', async () => {
    const path = join(dir(), 'dashboard.duckdb');
    await createOldScriptDatabase(path, { sales: 100, users: 5 });
    const before = sha(path);
    const w = makeWriter(path, `lock-foreign-writer-${Date.now()}`);
    cleanups.push(w.close);
    const error = await w.writer
      .transaction((tx) => commitSalesBatches(tx, [makeBatch('b-1', 5)]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForeignDatabaseError);
    expect((error as Error).message).toContain('datasync migrate --from');
    expect(w.writer.isOpen).toBe(false);
    expect(sha(path)).toBe(before);
  });
});
