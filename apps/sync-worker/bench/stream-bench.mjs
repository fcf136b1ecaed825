// Stream source benchmark: sales appended to a Redis Stream (XADD, one `sale` field of JSON per
// entry) and committed to DuckDB by a real sync-worker process (built dist) consuming it with a
// consumer group, against a redis-server of its own (appendfsync always, as the stack runs it).
// Two figures, rows/s: draining a backlog already in the stream, and live (the producer appending
// while the worker consumes, timed from the first XADD to the last commit). Compare with the HTTP
// ingest figure of `BENCH_ONLY=ingest`.
//
//   node apps/sync-worker/bench/stream-bench.mjs   (BENCH_STREAM_ROWS=200000 BENCH_STREAM_READ_COUNT=1000)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStreamLag } from '@datasync/runtime';
import { startLocalRedis } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const ROWS = Number(process.env.BENCH_STREAM_ROWS ?? 200_000);
const READ_COUNT = process.env.BENCH_STREAM_READ_COUNT ?? '1000';
const STREAM = 'bench:sales';

function sale(k) {
  const q = (k % 5) + 1;
  const cents = 1000 + (k % 997);
  return JSON.stringify({
    date: '2026-01-15',
    user_id: (k % 1000) + 1,
    product_name: `Product ${k % 50}`,
    quantity: q,
    unit_price: (cents / 100).toFixed(2),
    total_amount: ((cents * q) / 100).toFixed(2),
    region: ['EU', 'NA', 'APAC'][k % 3],
  });
}

async function produce(redis, rows, offset) {
  for (let i = 0; i < rows; i += 5_000) {
    const pipe = redis.pipeline();
    for (let k = i; k < Math.min(rows, i + 5_000); k++) pipe.xadd(STREAM, '*', 'sale', sale(offset + k));
    await pipe.exec();
  }
}

function startWorker(env) {
  const child = spawn(process.execPath, [join(root, 'apps/sync-worker/dist/main.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitFor(fn, ms = 600_000) {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

async function countRows(dbPath) {
  const instance = await DuckDBInstance.create(dbPath);
  const conn = await instance.connect();
  const r = (
    await conn.runAndReadAll(
      'SELECT (SELECT count(*) FROM sales)::BIGINT AS n, (SELECT count(*) FROM stream_entries)::BIGINT AS e',
    )
  ).getRowObjects()[0];
  conn.disconnectSync();
  instance.closeSync();
  return { rows: Number(r.n), entries: Number(r.e) };
}

async function phase(dir, name, live) {
  const redis = await startLocalRedis({ dir: join(dir, `redis-${name}`), appendfsync: 'always' });
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  const env = {
    REDIS_URL: redis.url,
    DATABASE_PATH: join(dir, `${name}.duckdb`),
    IMPORT_DIR: join(dir, 'imports'),
    BACKUP_DIR: join(dir, 'backups'),
    SALES_STREAM_KEY: STREAM,
    SALES_STREAM_READ_COUNT: READ_COUNT,
    SALES_STREAM_BLOCK_MS: '100',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  };
  let xaddSeconds = Number.NaN;
  if (!live) {
    const t = performance.now();
    await produce(client, ROWS, 0);
    xaddSeconds = (performance.now() - t) / 1000;
  }
  const worker = startWorker(env);
  await waitFor(() => /stream consumer started/.test(worker.output()), 60_000);
  const started = performance.now();
  const producing = live ? produce(client, ROWS, 0) : Promise.resolve();
  await producing;
  await waitFor(async () => {
    const lag = await readStreamLag(client, STREAM, 'datasync');
    return lag.exists && lag.entries === 0 && (await client.xlen(STREAM)) >= 0;
  });
  const seconds = (performance.now() - started) / 1000;
  worker.child.kill('SIGTERM');
  await new Promise((r) => worker.child.once('exit', r));
  client.disconnect();
  await redis.stop();
  const { rows, entries } = await countRows(env.DATABASE_PATH);
  if (rows !== ROWS || entries !== ROWS)
    throw new Error(`${name}: ${rows} rows, ${entries} entries for ${ROWS} appended`);
  return { seconds, xaddSeconds };
}

const dir = mkdtempSync(join(tmpdir(), 'datasync-stream-bench-'));
try {
  const backlog = await phase(dir, 'backlog', false);
  const live = await phase(dir, 'live', true);
  const rate = (s) => Math.round(ROWS / s).toLocaleString('en-US');
  console.log(
    `stream: ${ROWS.toLocaleString('en-US')} entries, SALES_STREAM_READ_COUNT=${READ_COUNT}, one sync-worker`,
  );
  console.log(`  producer XADD (pipelined, appendfsync always): ${rate(backlog.xaddSeconds)} entries/s`);
  console.log(
    `  backlog drained into DuckDB:                   ${rate(backlog.seconds)} rows/s (${backlog.seconds.toFixed(1)} s)`,
  );
  console.log(
    `  live, first XADD to last commit:               ${rate(live.seconds)} rows/s (${live.seconds.toFixed(1)} s)`,
  );
  console.log('  every entry stored exactly once (sales and stream_entries counted)');
  console.log('  compare: the HTTP ingest figure of BENCH_ONLY=ingest (1,000-row batches)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
