// What the analytics snapshot (ANALYTICS_SNAPSHOT_PATH) costs on large databases: for each size,
// a database filled by SQL (as the dashboard bench fills it, in date order), then the
// backup-worker's own AnalyticsSnapshot refreshes it twice (the second after one more commit, as
// in steady state): the file size, the copy's time under the writer lock, the whole refresh, how
// long a commit queued behind the copy waits, the writer's share at the default 60 s interval,
// and what a reader pays to open the copy read-only and sum the sales by region. Against the
// built dist, a redis-server of its own, a temp folder.
//
//   node apps/backup-worker/bench/snapshot-bench.mjs    (BENCH_SNAPSHOT_ROWS=10000000,100000000)
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitSalesBatches, DatabaseWriter, migrate, rebuildRollup, WriterLock } from '@datasync/db';
import { startLocalRedis } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { AnalyticsSnapshot } from '../dist/snapshot/analytics-snapshot.js';

const SIZES = (process.env.BENCH_SNAPSHOT_ROWS ?? '10000000,100000000').split(',').map(Number);
const INTERVAL_MS = 60_000;
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const mib = (n) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

async function fill(path, rows) {
  const db = await DuckDBInstance.create(path);
  const conn = await db.connect();
  await migrate(conn);
  const started = performance.now();
  await conn.run(`
    INSERT INTO sales
    SELECT ['shop', 'erp', 'crm', 'csv'][(i % 4) + 1], 'bench-' || i,
           DATE '2025-01-01' + (i * 730 // ${rows})::INTEGER, i % 100000, 'Product ' || ((i * 7919) % 500),
           (1 + i % 5)::INTEGER, (1 + (i * 31) % 10000 / 100.0)::DECIMAL(18,2),
           ((1 + i % 5) * (1 + (i * 31) % 10000 / 100.0))::DECIMAL(18,2),
           ['EU', 'NA', 'APAC', 'LATAM', 'MEA'][(i % 5) + 1], 'bench-' || (i // 10000), now()
    FROM range(${rows}) t(i)`);
  await rebuildRollup(conn);
  await conn.run('CHECKPOINT');
  conn.closeSync();
  db.closeSync();
  return performance.now() - started;
}

async function readerCost(path) {
  const started = performance.now();
  const db = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  await (await conn.runAndReadAll('SELECT region, sum(total_amount) FROM sales GROUP BY region')).getRows();
  conn.closeSync();
  db.closeSync();
  return performance.now() - started;
}

const batch = (id) => ({
  batchId: id,
  source: 'bench',
  idempotencyKeyHash: null,
  bodyHash: id,
  received: 1000,
  sales: Array.from({ length: 1000 }, (_, i) => ({
    id: null,
    date: '2026-11-30',
    user_id: i + 1,
    product_name: `Product ${i % 50}`,
    quantity: 1,
    unit_price: '9.99',
    total_amount: '9.99',
    region: 'EU',
  })),
  rejects: [],
});

console.log(`analytics snapshot benchmark (refresh interval ${INTERVAL_MS / 1000} s, the default)`);
for (const rows of SIZES) {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-snapshot-bench-'));
  const redisServer = await startLocalRedis({ dir: join(dir, 'redis') });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const dbPath = join(dir, 'dashboard.duckdb');
  const snapshotPath = join(dir, 'snapshot', 'analytics.duckdb');
  const refreshes = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line) {
        const entry = JSON.parse(line);
        if (entry.msg === 'analytics snapshot refreshed') refreshes.push(entry);
        if (entry.level >= 40) console.error(line.trim());
      },
    },
  );
  const writer = new DatabaseWriter({
    path: dbPath,
    lock: new WriterLock({ redis, key: 'bench:writer-lock' }),
    logger: pino({ level: 'silent' }),
    idleReleaseMs: 0,
  });
  try {
    const filled = await fill(dbPath, rows);
    const snapshot = new AnalyticsSnapshot({
      writer,
      databasePath: dbPath,
      path: snapshotPath,
      intervalMs: 0,
      logger,
    });
    await snapshot.tick();
    const commit = async (id) => {
      const t = performance.now();
      await writer.transaction((tx) => commitSalesBatches(tx, [batch(id)]));
      return performance.now() - t;
    };
    await commit('warm-up');
    const alone = await commit('alone');
    // The next copy, with a commit queued right behind it as ingest's next group would be: the
    // commit waits for the checkpoint, the copy and the file's reopening.
    const exclusive = writer.exclusive.bind(writer);
    let behind = null;
    writer.exclusive = (fn) => {
      const copy = exclusive(fn);
      behind = commit('behind-the-copy');
      return copy;
    };
    await snapshot.tick();
    const waited = await behind;
    writer.exclusive = exclusive;
    const reader = await readerCost(snapshotPath);
    const size = statSync(dbPath).size;
    console.log(`\n${fmt(rows)} sales (filled in ${fmt(filled / 1000)} s), database file ${mib(size)}`);
    if (refreshes.length !== 2) throw new Error(`expected 2 refreshes, logged ${refreshes.length}`);
    refreshes.forEach((r, i) => {
      console.log(
        `  refresh ${i + 1}${i === 0 ? ' (opens the file first)' : ''}: the copy under the writer lock ${fmt(r.lockHeldMs)} ms, the whole refresh ${fmt(r.ms)} ms, snapshot ${mib(r.bytes)}`,
      );
    });
    console.log(
      `  a 1,000-row commit queued behind the copy: ${fmt(waited)} ms (alone ${fmt(alone)} ms), so ingest waits ~${fmt(waited - alone)} ms per refresh`,
    );
    console.log(
      `  at one refresh per ${INTERVAL_MS / 1000} s: ${((100 * (waited - alone)) / INTERVAL_MS).toFixed(1)}% of the writer's time, plus ${mib(size)} more on disk`,
    );
    console.log(`  a reader opening the snapshot read-only and summing by region: ${fmt(reader)} ms`);
  } finally {
    await writer.close();
    redis.disconnect();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
