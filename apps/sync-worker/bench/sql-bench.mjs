// The SQL source: a 1,000,000-row PostgreSQL table (a postgres of our own, started in a temp
// folder) pulled into DuckDB by `syncFromSql` with the default page size: rows/s of the first full
// pull, of an incremental pull of 10,000 changed rows, and the process's peak RSS (one page in
// memory at a time). Against the built dist.
//
//   node apps/sync-worker/bench/sql-bench.mjs    (BENCH_SQL_ROWS=1000000, BENCH_SQL_PAGE_ROWS=10000)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import { startLocalPostgres, startLocalRedis } from '@datasync/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { syncFromSql } from '../dist/sales-sync/sql-source.js';

const ROWS = Number(process.env.BENCH_SQL_ROWS ?? 1_000_000);
const PAGE = Number(process.env.BENCH_SQL_PAGE_ROWS ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'datasync-sql-bench-'));
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
// A folder of its own under the system temp folder: run as root, the server's OS user must reach it.
const pgDir = mkdtempSync(join(tmpdir(), 'datasync-sql-bench-pg-'));
const postgres = await startLocalPostgres({ dir: pgDir });
const redisServer = await startLocalRedis({ dir: join(dir, 'redis') });
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
const writer = new DatabaseWriter({
  path: join(dir, 'bench.duckdb'),
  lock: new WriterLock({ redis, key: 'bench:lock', leaseMs: 15_000 }),
  logger: pino({ level: 'silent' }),
  idleReleaseMs: 0,
});
try {
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  let started = performance.now();
  await db.query(`CREATE TABLE shop_sales AS
    SELECT i AS id, DATE '2026-01-01' + (i % 300) AS date, i % 5000 + 1 AS user_id,
           'Product ' || (i % 500) AS product_name, i % 5 + 1 AS quantity,
           ((1000 + i % 997) / 100.0)::NUMERIC(10,2) AS unit_price,
           ((1000 + i % 997) * (i % 5 + 1) / 100.0)::NUMERIC(12,2) AS total_amount,
           (ARRAY['EU','NA','APAC','LATAM'])[i % 4 + 1] AS region,
           TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 millisecond' AS updated_at
    FROM generate_series(1, ${ROWS}) AS i`);
  await db.query('ALTER TABLE shop_sales ADD PRIMARY KEY (id)');
  await db.query('CREATE INDEX ON shop_sales (updated_at, id)');
  await db.query('ANALYZE shop_sales');
  console.log(`source table: ${ROWS} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const config = {
    SALES_DB_URL: postgres.url,
    SALES_DB_TABLE: 'shop_sales',
    SALES_DB_QUERY: undefined,
    SALES_DB_CURSOR: 'updated_at',
    SALES_DB_KEY: 'id',
    SALES_DB_PAGE_ROWS: PAGE,
    SALES_DB_LOOKBACK: 0,
  };
  const logger = pino({ level: process.env.BENCH_SQL_LOG ?? 'silent' });
  const pull = () => syncFromSql({ writer, logger, config }, { runId: randomUUID() });
  const line = (label, r, seconds) =>
    console.log(
      `${label.padEnd(28)} ${String(r.received).padStart(8)} rows  ${String(r.pages).padStart(4)} pages  ${seconds.toFixed(2)} s  ${Math.round(r.received / seconds)} rows/s  count check: ${r.countCheck.days} days, ${r.countCheck.mismatches.length} differ`,
    );

  started = performance.now();
  const full = await pull();
  line(`full pull (pages of ${PAGE})`, full, (performance.now() - started) / 1000);

  await db.query(
    `UPDATE shop_sales SET quantity = quantity + 1, total_amount = total_amount + unit_price,
       updated_at = TIMESTAMPTZ '2026-06-01 00:00:00+00' + id * INTERVAL '1 microsecond'
     WHERE id % 100 = 0`,
  );
  started = performance.now();
  const incremental = await pull();
  line('incremental (1 % updated)', incremental, (performance.now() - started) / 1000);
  console.log(`peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`);
  await db.end();
} finally {
  await writer.close();
  redis.disconnect();
  await redisServer.stop();
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(pgDir, { recursive: true, force: true });
}
