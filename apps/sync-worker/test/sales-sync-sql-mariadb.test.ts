import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseWriter, sqlCursorOf, WriterLock } from '@datasync/db';
import { type LocalMariadb, startLocalMariadb, tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type SqlSourceConfig, SqlSourceError, syncFromSql } from '../src/sales-sync/sql-source.js';

// One MariaDB server for the file, its default time zone not UTC; a database per test.
let server: LocalMariadb;
const serverDir = tempDir('datasync-maria-');
beforeAll(async () => {
  server = await startLocalMariadb({ dir: serverDir.path, timeZone: '-05:00' });
}, 90_000);
afterAll(async () => {
  await server?.stop();
  serverDir.cleanup();
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sourceDatabase() {
  const name = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  server.sql(`CREATE DATABASE ${name};
    CREATE TABLE ${name}.shop_sales (
      id BIGINT PRIMARY KEY, date DATE, user_id INT, product_name VARCHAR(200), quantity INT,
      unit_price DECIMAL(10,2), total_amount DECIMAL(12,2), region VARCHAR(64), updated_at TIMESTAMP(6) NULL,
      KEY by_cursor (updated_at, id));`);
  const url = server.url.replace(/\/mysql$/, `/${name}`);
  const db = await mysql.createConnection({ uri: url, timezone: '+05:30' });
  await db.query("SET time_zone = '+05:30'");
  cleanups.push(() => db.end());
  return { url, db, name };
}

type Row = [id: number, date: string, quantity: number, updatedAt: string, product?: string];
async function insertRows(db: mysql.Connection, rows: Row[]) {
  for (const [id, date, quantity, updatedAt, product] of rows) {
    await db.query(
      `INSERT INTO shop_sales VALUES (?, ?, 7, ?, ?, 2.50, ?, 'EU', ?)
       ON DUPLICATE KEY UPDATE product_name = VALUES(product_name), quantity = VALUES(quantity),
         total_amount = VALUES(total_amount), updated_at = VALUES(updated_at)`,
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
  const cursor = (source: string) => writer.read((conn) => sqlCursorOf(conn, source));
  return { logs, config, run, stored, cursor };
}

describe('sales sync from a MariaDB table (source sql)', () => {
  it('pulls everything, then what changed; updated rows replace, rows sharing the boundary value are kept', async () => {
    const { url, db } = await sourceDatabase();
    await insertRows(db, [
      [1, '2026-01-10', 1, '2026-01-10 09:00:00'],
      [2, '2026-01-10', 2, '2026-01-10 09:00:01'],
      [3, '2026-01-11', 0, '2026-01-11 09:00:00'], // quantity 0: quarantined
      [4, '2026-01-11', 4, '2026-01-11 09:00:01.5'],
      [5, '2026-01-11', 5, '2026-01-11 09:00:01.5'],
    ]);
    const t = setup(url);
    const first = await t.run();
    expect(first).toMatchObject({
      received: 5,
      accepted: 4,
      rejected: 1,
      countCheck: { days: 2, mismatches: [] },
    });
    // Stored as the server's text in UTC (the session here was +05:30), microseconds kept.
    expect(first.watermark).toBe('2026-01-11 03:30:01.500000');
    expect((await t.run()).received).toBe(0);

    await insertRows(db, [
      [2, '2026-01-10', 9, '2026-01-13 10:00:00', 'Renamed'],
      [45, '2026-01-11', 1, '2026-01-11 09:00:01.5'], // late, at the boundary value
    ]);
    const second = await t.run();
    expect(second).toMatchObject({ received: 2, accepted: 2, countCheck: { mismatches: [] } });
    expect(await t.stored()).toEqual([
      '1:Product 1:1',
      '2:Renamed:9',
      '4:Product 4:4',
      '5:Product 5:5',
      '45:Product 45:1',
    ]);
    expect(t.logs.join('\n')).not.toContain(server.password);
  });

  it('reports a row committed late behind the cursor; the look-back picks it up', async () => {
    const { url, db } = await sourceDatabase();
    await insertRows(db, [
      [1, '2026-04-01', 1, '2026-04-01 10:00:00'],
      [3, '2026-04-01', 1, '2026-04-01 10:10:00'],
    ]);
    const t = setup(url);
    await t.run();
    await insertRows(db, [[2, '2026-04-01', 1, '2026-04-01 10:05:00']]);
    const missed = await t.run();
    expect(missed.countCheck.mismatches).toEqual([{ day: '2026-04-01', source: 3, stored: 2 }]);
    t.config.SALES_DB_LOOKBACK = 900;
    const caught = await t.run();
    expect(caught).toMatchObject({ watermark: '2026-04-01 04:40:00.000000', countCheck: { mismatches: [] } });
    expect((await t.stored()).map((r) => r.split(':')[0])).toEqual(['1', '2', '3']);
  });

  it('a connection killed mid-pull leaves whole pages; a rerun completes', async () => {
    const { url, db, name } = await sourceDatabase();
    await insertRows(
      db,
      Array.from({ length: 10 }, (_, i): Row => [i + 1, '2026-05-01', 1, `2026-05-01 10:00:0${i}.25`]),
    );
    const t = setup(url, { SALES_DB_PAGE_ROWS: 3 });
    const failed = t.run(async (pages) => {
      if (pages !== 1) return;
      const [rows] = await db.query(
        `SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()`,
        [name],
      );
      for (const row of rows as { id: number }[]) await db.query(`KILL ${Number(row.id)}`);
    });
    await expect(failed).rejects.toBeInstanceOf(SqlSourceError);
    await expect(failed).rejects.toMatchObject({ permanent: false });
    const kept = (await t.stored()).length;
    expect([3, 6]).toContain(kept);
    const source = `sql:127.0.0.1:${server.port}/${name}/shop_sales`;
    expect((await t.cursor(source))?.value).toBe(`2026-05-01 04:30:0${kept - 1}.250000`);
    const rerun = await t.run();
    expect(rerun).toMatchObject({ received: 10 - kept, countCheck: { mismatches: [] } });
    expect(await t.stored()).toHaveLength(10);
  });

  it('wrong credentials fail once with a clear error that never shows the password', async () => {
    const { url } = await sourceDatabase();
    const t = setup(url.replace(encodeURIComponent(server.password), 'not-the-s3cret'));
    const failed = t.run();
    await expect(failed).rejects.toMatchObject({ permanent: true });
    const message = await failed.catch((e: Error) => e.message);
    expect(message).toMatch(/Access denied for user 'root'/);
    expect(message).toContain('mysql://root:***@127.0.0.1');
    expect(message).not.toContain('not-the-s3cret');
  });
});
