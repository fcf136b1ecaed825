import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseWriter, sqlCursorOf, WriterLock } from '@datasync/db';
import { QUEUE_PREFIX } from '@datasync/runtime';
import { QUEUES, type SqlSyncResult } from '@datasync/schemas';
import { type LocalPostgres, startLocalPostgres, tempDir } from '@datasync/testkit';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSalesSyncProcessor } from '../src/sales-sync/sales-sync-processor.js';
import { type SqlSourceConfig, SqlSourceError, syncFromSql } from '../src/sales-sync/sql-source.js';

// One PostgreSQL server for the file, its default time zone not UTC; a database per test.
let server: LocalPostgres;
const serverDir = tempDir('datasync-pg-');
beforeAll(async () => {
  server = await startLocalPostgres({ dir: serverDir.path, timeZone: 'America/New_York' });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  serverDir.cleanup();
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SOURCE_TABLE = `
  CREATE TABLE shop_sales (
    id BIGINT PRIMARY KEY, date DATE, user_id INTEGER, product_name TEXT, quantity INTEGER,
    unit_price NUMERIC(10,2), total_amount NUMERIC(12,2), region TEXT, updated_at TIMESTAMPTZ(6))`;

/** A database of its own on the file's server, with the source table; a client on it in Asia/Kolkata. */
async function sourceDatabase() {
  const name = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  const db = new pg.Client({ connectionString: url, options: '-c TimeZone=Asia/Kolkata' });
  await db.connect();
  await db.query(SOURCE_TABLE);
  cleanups.push(() => db.end());
  return { url, db, name };
}

type Row = [id: number, date: string, quantity: number, updatedAt: string, product?: string];
async function insertRows(db: pg.Client, rows: Row[]) {
  for (const [id, date, quantity, updatedAt, product] of rows) {
    await db.query(
      `INSERT INTO shop_sales VALUES ($1, $2, 7, $3, $4, 2.50, $5, 'EU', $6)
       ON CONFLICT (id) DO UPDATE SET product_name = EXCLUDED.product_name, quantity = EXCLUDED.quantity,
         total_amount = EXCLUDED.total_amount, updated_at = EXCLUDED.updated_at`,
      [id, date, product ?? `Product ${id}`, quantity, (quantity * 2.5).toFixed(2), updatedAt],
    );
  }
}

function setup(url: string, overrides: Partial<SqlSourceConfig> = {}) {
  const dir = tempDir('datasync-sqlsrc-');
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger: pino({ level: 'silent' }),
    idleReleaseMs: 0,
  });
  cleanups.push(
    dir.cleanup,
    () => redis.disconnect(),
    () => writer.close(),
  );
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
  const config: SqlSourceConfig = {
    SALES_DB_URL: url,
    SALES_DB_TABLE: 'shop_sales',
    SALES_DB_QUERY: undefined,
    SALES_DB_CURSOR: 'updated_at',
    SALES_DB_KEY: 'id',
    SALES_DB_PAGE_ROWS: 2,
    SALES_DB_LOOKBACK: 0,
    ...overrides,
  };
  const run = (onProgress?: (p: number) => unknown) =>
    syncFromSql({ writer, logger, config }, { runId: randomUUID(), ...(onProgress ? { onProgress } : {}) });
  const stored = () =>
    writer.read(async (conn) => {
      const reader = await conn.runAndReadAll(
        `SELECT external_id AS id, product_name AS p, quantity AS q FROM sales ORDER BY external_id::BIGINT`,
      );
      return reader.getRowObjects().map((r) => `${r.id}:${r.p}:${r.q}`);
    });
  const rejects = () =>
    writer.read(async (conn) => {
      const reader = await conn.runAndReadAll(`SELECT count(*)::INT AS n FROM rejects`);
      return Number(reader.getRowObjects()[0]!.n);
    });
  const cursor = (source: string) => writer.read((conn) => sqlCursorOf(conn, source));
  return { writer, logs, config, run, stored, rejects, cursor, redis };
}

describe('sales sync from a PostgreSQL table (source sql)', () => {
  it('pulls everything first, then only what changed; a row updated at the source is updated, not doubled', async () => {
    const { url, db } = await sourceDatabase();
    await insertRows(db, [
      [1, '2026-01-10', 1, '2026-01-10 09:00:00+05:30'],
      [2, '2026-01-10', 2, '2026-01-10 09:00:01+05:30'],
      [3, '2026-01-11', 0, '2026-01-11 09:00:00+05:30'], // quantity 0: quarantined
      [4, '2026-01-11', 4, '2026-01-11 09:00:01+05:30'],
      [5, '2026-01-12', 5, '2026-01-12 09:00:00+05:30'],
    ]);
    const t = setup(url);
    const first = await t.run();
    expect(first).toMatchObject({ source: 'sql', received: 5, accepted: 4, rejected: 1, pages: 3 });
    expect(first.countCheck).toEqual({ days: 3, mismatches: [] });
    expect(await t.stored()).toEqual(['1:Product 1:1', '2:Product 2:2', '4:Product 4:4', '5:Product 5:5']);
    expect(await t.rejects()).toBe(1);

    const nothing = await t.run();
    expect(nothing).toMatchObject({ received: 0, pages: 0, watermark: first.watermark });

    await insertRows(db, [
      [2, '2026-01-10', 9, '2026-01-13 10:00:00+05:30', 'Renamed'],
      [6, '2026-01-13', 6, '2026-01-13 10:00:01+05:30'],
    ]);
    const second = await t.run();
    expect(second).toMatchObject({
      received: 2,
      accepted: 2,
      rejected: 0,
      window: { from: first.watermark },
    });
    expect(second.countCheck.mismatches).toEqual([]);
    expect(await t.stored()).toEqual([
      '1:Product 1:1',
      '2:Renamed:9',
      '4:Product 4:4',
      '5:Product 5:5',
      '6:Product 6:6',
    ]);
    // The password of the URL never reached a log line.
    expect(t.logs.join('\n')).not.toContain(server.password);
  });

  it('keeps every row sharing the boundary cursor value across pages and runs, each stored once', async () => {
    const { url, db } = await sourceDatabase();
    const same = '2026-02-01 12:00:00.25+00';
    await insertRows(db, [
      [10, '2026-02-01', 1, same],
      [20, '2026-02-01', 1, same],
      [30, '2026-02-01', 1, same],
      [40, '2026-02-01', 1, same],
      [50, '2026-02-01', 1, same],
    ]);
    const t = setup(url, { SALES_DB_PAGE_ROWS: 2 });
    const first = await t.run();
    expect(first).toMatchObject({ received: 5, accepted: 5 });
    // A row committed later with the same cursor value and a key inside the range already read.
    await insertRows(db, [[25, '2026-02-01', 1, same]]);
    const second = await t.run();
    expect(second).toMatchObject({ received: 1, accepted: 1, watermark: '2026-02-01 12:00:00.25+00' });
    expect((await t.stored()).map((r) => r.split(':')[0])).toEqual(['10', '20', '25', '30', '40', '50']);
    const source = second.sourceName;
    expect((await t.cursor(source))?.boundaryKeys.sort()).toEqual(['10', '20', '25', '30', '40', '50']);
  });

  it('keeps the watermark to the microsecond in UTC whatever the session time zone', async () => {
    const { url, db } = await sourceDatabase();
    await insertRows(db, [
      [1, '2026-03-01', 1, '2026-03-01 23:59:59.999998+05:30'],
      [2, '2026-03-01', 1, '2026-03-01 23:59:59.999999+05:30'],
    ]);
    const t = setup(url);
    const first = await t.run();
    expect(first.watermark).toBe('2026-03-01 18:29:59.999999+00');
    // A row one microsecond later is read; none of the others again.
    await insertRows(db, [[3, '2026-03-01', 1, '2026-03-01 18:30:00+00']]);
    const second = await t.run();
    expect(second).toMatchObject({ received: 1, watermark: '2026-03-01 18:30:00+00' });
    const third = await t.run();
    expect(third.received).toBe(0);
  });

  it('reports rows committed late behind the cursor, and the look-back window picks them up', async () => {
    const { url, db } = await sourceDatabase();
    await insertRows(db, [
      [1, '2026-04-01', 1, '2026-04-01 10:00:00+00'],
      [3, '2026-04-01', 1, '2026-04-01 10:10:00+00'],
    ]);
    // A long transaction stamps its row before the pull and commits after it.
    const late = new pg.Client({ connectionString: url });
    await late.connect();
    cleanups.push(() => late.end());
    await late.query('BEGIN');
    await late.query(
      `INSERT INTO shop_sales VALUES (2, '2026-04-01', 7, 'Late', 1, 2.50, 2.50, 'EU', '2026-04-01 10:05:00+00')`,
    );
    const t = setup(url);
    expect(await t.run()).toMatchObject({ received: 2, countCheck: { mismatches: [] } });
    await late.query('COMMIT');

    const missed = await t.run();
    expect(missed.received).toBe(0);
    expect(missed.countCheck.mismatches).toEqual([{ day: '2026-04-01', source: 3, stored: 2 }]);
    expect(missed.warnings[0]).toMatch(/SALES_DB_LOOKBACK/);

    t.config.SALES_DB_LOOKBACK = 900; // 15 minutes behind the watermark
    const caught = await t.run();
    expect(caught).toMatchObject({
      window: { from: '2026-04-01 09:55:00+00' },
      watermark: '2026-04-01 10:10:00+00',
      countCheck: { mismatches: [] },
    });
    expect((await t.stored()).map((r) => r.split(':')[0])).toEqual(['1', '2', '3']);
  });

  it('a connection dropped mid-pull leaves whole pages and the watermark at the last of them; a rerun completes', async () => {
    const { url, db } = await sourceDatabase();
    const rows: Row[] = Array.from({ length: 10 }, (_, i) => [
      i + 1,
      '2026-05-01',
      1,
      `2026-05-01 10:00:${String(i).padStart(2, '0')}.5+00`,
    ]);
    await insertRows(db, rows);
    const t = setup(url, { SALES_DB_PAGE_ROWS: 3 });
    const failed = t.run(async (pages) => {
      if (pages !== 1) return;
      await db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'datasync-sales-sync'`,
      );
    });
    await expect(failed).rejects.toBeInstanceOf(SqlSourceError);
    await expect(failed).rejects.toMatchObject({ permanent: false });
    // Whole pages only (the page read ahead while the first one committed may have made it too),
    // and the watermark on the last row stored.
    const kept = (await t.stored()).length;
    expect([3, 6]).toContain(kept);
    const source = `sql:127.0.0.1:${server.port}/${url.split('/').pop()}/shop_sales`;
    expect((await t.cursor(source))?.value).toBe(`2026-05-01 10:00:0${kept - 1}.5+00`);

    const rerun = await t.run();
    expect(rerun).toMatchObject({
      received: 10 - kept,
      watermark: '2026-05-01 10:00:09.5+00',
      countCheck: { days: 1 },
    });
    expect(rerun.countCheck.mismatches).toEqual([]);
    expect(await t.stored()).toHaveLength(10);
  });

  it('wrong credentials fail with a clear error that never shows the password', async () => {
    const { url } = await sourceDatabase();
    const wrong = url.replace(encodeURIComponent(server.password), 'not-the-s3cret');
    const t = setup(wrong);
    const failed = t.run();
    await expect(failed).rejects.toMatchObject({ permanent: true });
    const message = await failed.catch((e: Error) => e.message);
    expect(message).toMatch(/password authentication failed for user "postgres"/);
    expect(message).toContain('postgres://postgres:***@127.0.0.1');
    expect(message).not.toContain('not-the-s3cret');
    expect(t.logs.join('\n')).not.toContain('not-the-s3cret');
  });

  it('runs as a sales-sync job with source sql: the job carries no credentials; wrong ones fail it once', async () => {
    const { url, db } = await sourceDatabase();
    await insertRows(db, [
      [1, '2026-06-01', 1, '2026-06-01 10:00:00+00'],
      [2, '2026-06-01', 2, '2026-06-01 10:00:01+00'],
    ]);
    const t = setup(url, {
      SALES_DB_QUERY: 'SELECT * FROM shop_sales WHERE region = $$EU$$',
      SALES_DB_TABLE: undefined,
    });
    const redisUrl = inject('redisUrl');
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const eventsConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const prefix = `${QUEUE_PREFIX}-sql-${randomUUID().slice(0, 8)}`;
    const config = {
      IMPORT_DIR: '/nonexistent',
      SALES_API_URL: undefined,
      SALES_API_KEY: undefined,
      SALES_API_TIMEOUT_MS: 1_000,
      SALES_API_MAX_RETRIES: 0,
      ...t.config,
    };
    const processor = createSalesSyncProcessor({
      writer: t.writer,
      config,
      logger: pino({ level: 'silent' }),
    });
    const worker = new Worker(QUEUES.salesSync, processor, { connection, prefix });
    const queue = new Queue(QUEUES.salesSync, { connection, prefix });
    const events = new QueueEvents(QUEUES.salesSync, { connection: eventsConnection, prefix });
    cleanups.push(
      () => connection.disconnect(),
      () => eventsConnection.disconnect(),
      () => queue.obliterate({ force: true }),
      () => queue.close(),
      () => events.close(),
      () => worker.close(),
    );
    await events.waitUntilReady();
    const job = await queue.add('sales-sync', { source: 'sql' });
    const result = (await job.waitUntilFinished(events, 30_000)) as SqlSyncResult;
    expect(result).toMatchObject({ source: 'sql', received: 2, accepted: 2 });
    expect(result.sourceName).toMatch(/^sql:127\.0\.0\.1:\d+\/t_\w+\/query$/);
    expect(JSON.stringify(job.data)).toBe('{"source":"sql"}');

    config.SALES_DB_URL = url.replace(encodeURIComponent(server.password), 'wrong-s3cret');
    const refused = await queue.add('sales-sync', { source: 'sql' }, { attempts: 3, backoff: 10 });
    await expect(refused.waitUntilFinished(events, 30_000)).rejects.toThrow(/password authentication failed/);
    const failed = await queue.getJob(refused.id!);
    expect(failed?.attemptsMade).toBe(1); // not retried: credentials do not fix themselves
    expect(failed?.failedReason).not.toContain('wrong-s3cret');
  });
});
