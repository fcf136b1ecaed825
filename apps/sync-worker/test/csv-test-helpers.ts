import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseWriter, listRejects, WriterLock } from '@datasync/db';
import { tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, inject } from 'vitest';
import { type CsvImportJob, importSalesCsv } from '../src/sales-sync/csv-import.js';

export const logger = pino({ level: 'silent' });
export const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A writer on a temp database, an import folder, and helpers to run an import and read it back. */
export function setupCsvImport(limits = { rows: 250_000, bytes: 32 << 20 }) {
  const dir = tempDir('datasync-csv-');
  const importDir = join(dir.path, 'imports');
  mkdirSync(importDir, { mode: 0o700 });
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const lockKey = `test:lock:${randomUUID()}`;
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis, key: lockKey, leaseMs: 2_000 }),
    logger,
    idleReleaseMs: 0,
    handoverCheckMs: 20,
  });
  cleanups.push(
    dir.cleanup,
    () => redis.disconnect(),
    () => writer.close(),
  );
  const file = (name: string, content: string | Buffer) => {
    const path = join(importDir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const run = (path: string, job: Partial<CsvImportJob> = {}) =>
    importSalesCsv(
      { writer, logger, workDir: join(importDir, '.chunks'), limits },
      { importId: randomUUID(), file: path, fileName: 'sales.csv', force: false, ...job },
    );
  const sales = () =>
    writer.read(async (conn) => {
      const r = await conn.runAndReadAll(
        `SELECT external_id AS id, date::VARCHAR AS date, user_id::INTEGER AS user_id, product_name,
                quantity, unit_price::VARCHAR AS unit_price, total_amount::VARCHAR AS total_amount, region
         FROM sales ORDER BY user_id, external_id`,
      );
      return r.getRowObjectsJson();
    });
  const rejects = (importId: string) =>
    writer.read((conn) => listRejects(conn, { importId, limit: 1000, offset: 0 }));
  /** Rows of sales + rejects + csv_imports: 0 when a failed file stored nothing. */
  const stored = () =>
    writer.read(async (conn) => {
      const r = await conn.runAndReadAll(
        'SELECT (SELECT count(*) FROM sales) + (SELECT count(*) FROM rejects) + (SELECT count(*) FROM csv_imports) AS n',
      );
      return Number(r.getRowObjects()[0]!.n);
    });
  return { dir, importDir, redis, lockKey, writer, file, run, sales, rejects, stored };
}

export const HEADER = 'id,date,user_id,product_name,quantity,unit_price,total_amount,region';
export const row = (i: number, overrides: { id?: string; quantity?: number } = {}) => {
  const quantity = overrides.quantity ?? (i % 3) + 1;
  const cents = 1000 + i;
  const id = overrides.id ?? `S-${i}`;
  return `${id},2026-01-${String((i % 28) + 1).padStart(2, '0')},${i + 1},Product ${i},${quantity},${(cents / 100).toFixed(2)},${((cents * quantity) / 100).toFixed(2)},EU`;
};
export const csvOf = (rows: string[], eol = '\n') => `${[HEADER, ...rows].join(eol)}${eol}`;

/** No server path, no DuckDB text in anything the user reads. */
export const INTERNAL = /\/tmp|\/work|duckdb|Invalid Input Error|state machine|strict_mode|file =/i;

/** Each fault is tried on a file read in place and on chunk files the worker writes. */
export const CHUNKINGS = [
  ['one chunk (read in place when the file allows)', { rows: 1000, bytes: 1 << 20 }],
  ['chunks of 2 records (copied)', { rows: 2, bytes: 1 << 20 }],
] as const;
