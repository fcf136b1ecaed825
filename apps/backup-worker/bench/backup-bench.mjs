// Backup and restore of a 1,000,000-row database, and how long ingest waits on the writer lock
// while backups run. Against the built dist, a redis-server of its own, temp folders; another
// process ingests without pause (1,000-row batches through DatabaseWriter, as the sync-worker does).
//
//   node apps/backup-worker/bench/backup-bench.mjs    (BENCH_ROWS=1000000 BENCH_BACKUPS=3 BENCH_S3=1)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitSalesBatches, DatabaseWriter, salesTotals, WriterLock } from '@datasync/db';
import { startLocalRedis } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import S3rver from 's3rver';
import { createBackup } from '../dist/backup/create-backup.js';
import { LocalBackupStore } from '../dist/backup/local-store.js';
import { restoreBackup } from '../dist/backup/restore.js';
import { createS3Client, S3BackupStore } from '../dist/backup/s3-store.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BACKUPS = Number(process.env.BENCH_BACKUPS ?? 3);
const WITH_S3 = process.env.BENCH_S3 !== '0';
const logger = pino({ level: 'silent' });
const ms = (n) => `${Math.round(n)} ms`;
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function batch(id, rows, offset) {
  const sales = [];
  for (let i = 0; i < rows; i++) {
    const k = offset + i;
    const q = (k % 5) + 1;
    const cents = 1000 + (k % 997);
    sales.push({
      id: k % 4 === 0 ? `up-${k}` : null,
      date: `2026-0${(k % 9) + 1}-1${k % 10}`,
      user_id: (k % 5000) + 1,
      product_name: `Product ${k % 500}`,
      quantity: q,
      unit_price: (cents / 100).toFixed(2),
      total_amount: ((cents * q) / 100).toFixed(2),
      region: ['EU', 'NA', 'APAC', 'LATAM'][k % 4],
    });
  }
  return {
    batchId: id,
    source: 'bench',
    idempotencyKeyHash: null,
    bodyHash: id,
    received: rows,
    sales,
    rejects: [],
  };
}

function startIngest(env) {
  const child = spawn(process.execPath, [join(here, '..', 'test', 'fixtures', 'ingest-loop.mjs')], {
    env: { ...process.env, ...env, ROWS: '1000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const started = new Promise((resolve) => {
    const check = () => (out.includes('ingesting') ? resolve() : setTimeout(check, 20));
    check();
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    return JSON.parse(out.trim().split('\n').pop());
  };
  return { started, stop };
}

const dir = mkdtempSync(join(tmpdir(), 'datasync-backup-bench-'));
const redisServer = await startLocalRedis({ dir: join(dir, 'redis') });
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
const lockKey = 'bench:writer-lock';
const dbPath = join(dir, 'data', 'dashboard.duckdb');
const writer = new DatabaseWriter({
  path: dbPath,
  lock: new WriterLock({ redis, key: lockKey }),
  logger,
  idleReleaseMs: 0,
});
let s3server = null;
let s3 = null;
try {
  let t = performance.now();
  const per = 50_000;
  for (let done = 0; done < ROWS; done += per) {
    const n = Math.min(per, ROWS - done);
    await writer.transaction((tx) => commitSalesBatches(tx, [batch(`seed-${done}`, n, done)]));
  }
  const seeded = await writer.read((conn) => salesTotals(conn));
  await writer.exclusive(async () => undefined);
  console.log(
    `database: ${seeded.rows} sales rows, ${mb(statSync(dbPath).size)}, built in ${ms(performance.now() - t)}`,
  );

  if (WITH_S3) {
    s3server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: join(dir, 's3'),
      configureBuckets: [{ name: 'bench' }],
    });
    const { port } = await s3server.run();
    s3 = new S3BackupStore(
      createS3Client(
        {
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
          AWS_S3_FORCE_PATH_STYLE: true,
        },
        { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      ),
      { bucket: 'bench', prefix: 'datasync/' },
    );
  }
  const deps = {
    writer,
    local: new LocalBackupStore(join(dir, 'backups'), logger),
    s3: null,
    logger,
    retentionDays: 30,
  };

  const ingest = startIngest({ REDIS_URL: redisServer.url, DB_PATH: dbPath, LOCK_KEY: lockKey });
  await ingest.started;
  await new Promise((r) => setTimeout(r, 500));
  const runs = [];
  for (let i = 0; i < BACKUPS; i++) {
    t = performance.now();
    const result = await createBackup(deps);
    runs.push({ ms: performance.now() - t, held: result.lockHeldMs, result });
    await new Promise((r) => setTimeout(r, 300));
  }
  const report = await ingest.stop();
  const last = runs.at(-1).result.backup;
  console.log(
    `backup (local, verified), ${BACKUPS} runs during ingest: ${runs.map((r) => ms(r.ms)).join(', ')}; ` +
      `file closed for the copy: ${runs.map((r) => ms(r.held)).join(', ')}; archive ${mb(last.size)}`,
  );
  console.log(
    `ingest during the backups: ${report.committed} batches of 1,000 rows; longest lock wait ${ms(report.maxWaitMs)}` +
      ` (target < 1000 ms); longest commit incl. reopening ${ms(report.maxCommitMs)}`,
  );

  if (s3) {
    t = performance.now();
    const withS3 = await createBackup({ ...deps, s3 });
    console.log(
      `backup with S3 upload and read-back check (s3rver on loopback): ${ms(performance.now() - t)}`,
    );
    t = performance.now();
    await deps.local.remove(withS3.backup.name);
    const fromS3 = await restoreBackup({ ...deps, s3 }, withS3.backup.name);
    console.log(
      `restore from S3 (download, checks, swap): ${ms(performance.now() - t)}, file closed ${ms(fromS3.lockHeldMs)}`,
    );
  }

  t = performance.now();
  const restored = await restoreBackup(deps, last.name);
  const restoreMs = performance.now() - t;
  const after = await writer.read((conn) => salesTotals(conn));
  console.log(
    `restore (local: checksum, decompress, open and count, swap): ${ms(restoreMs)}; ` +
      `file closed for the swap ${ms(restored.lockHeldMs)}; sales rows now ${after.rows} (manifest ${last.tables.sales})`,
  );
  if (after.rows !== last.tables.sales) throw new Error('restored row count differs from the manifest');
} finally {
  await writer.close();
  s3?.close();
  await s3server?.close();
  redis.disconnect();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
}
