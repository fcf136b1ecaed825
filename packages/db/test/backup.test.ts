import { randomUUID } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  commitSalesBatches,
  inspectDatabaseFile,
  prepareRestoredDatabaseFile,
  SCHEMA_VERSION,
  salesTotals,
} from '../src/index.js';
import { makeBatch, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function databaseWithSales(rows: number) {
  const dir = tempDir('datasync-db-backup-');
  const path = join(dir.path, 'live.duckdb');
  const w = makeWriter(path, `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  await w.writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b-1', rows)]));
  // exclusive() leaves the file closed and checkpointed: the state a backup copies.
  await w.writer.exclusive(async () => undefined);
  return { ...w, path, dir: dir.path };
}

describe('database file inspection', () => {
  it('counts the rows of every table and reads the schema and DuckDB versions of a copy', async () => {
    const { path, dir } = await databaseWithSales(250);
    const copy = join(dir, 'copy.duckdb');
    copyFileSync(path, copy);
    const found = await inspectDatabaseFile(copy);
    expect(found.tables.sales).toBe(250);
    expect(found.tables.ingest_batches).toBe(1);
    expect(found.tables.schema_migrations).toBeGreaterThan(0);
    expect(found.schemaVersion).toBe(SCHEMA_VERSION);
    expect(found.duckdbVersion).toMatch(/^v\d+\.\d+/);
  });

  it('refuses a file that is not a database', async () => {
    const dir = tempDir('datasync-db-backup-');
    cleanups.push(dir.cleanup);
    const bogus = join(dir.path, 'bogus.duckdb');
    writeFileSync(bogus, Buffer.alloc(64 * 1024, 0x5a));
    await expect(inspectDatabaseFile(bogus)).rejects.toThrow();
  });

  it('a prepared restored file opens under the lock with any epoch and keeps its rows', async () => {
    const { path, dir, writer } = await databaseWithSales(40);
    const copy = join(dir, 'restored.duckdb');
    copyFileSync(path, copy);
    await prepareRestoredDatabaseFile(copy);
    expect((await inspectDatabaseFile(copy)).tables.sales).toBe(40);
    // Swap it in the way a restore does, then keep writing through the same writer.
    await writer.exclusive(async (ctx) => copyFileSync(copy, ctx.path));
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('after-restore', 10, 1000)]));
    expect((await writer.read((c) => salesTotals(c))).rows).toBe(50);
  });
});
