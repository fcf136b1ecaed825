// CSV import benchmark (against the built dist). Prints, from the same run on the same file:
// DuckDB's own typed read_csv into a table (a fresh database file; explicit columns DATE, BIGINT,
// INTEGER, DECIMAL(18,4) for money, VARCHAR for text; store_rejects) in rows/s: the 100 %; our
// import of it in rows/s (the sha256 and structure pass, validation in SQL, quarantine of the bad
// rows with their lines, upsert by id, chunked commits with the ledger); their ratio; the longest
// a process waiting for the writer lock (a backup) waited during an import; and the peak RSS of a
// child process importing a 10,000,000-row file with DUCKDB_MEMORY_LIMIT set as a worker would.
//
//   node apps/sync-worker/bench/csv-bench.mjs
//   BENCH_CSV_ROWS=1000000  BENCH_CSV_BIG_ROWS=10000000 (0 skips the 10M part, about a minute here)
//   BENCH_CSV_MEMORY_LIMIT=128MB (the child's DUCKDB_MEMORY_LIMIT)  BENCH_CSV_ROUNDS=2 (best of)
//   BENCH_CSV_CHUNK_ROWS, BENCH_CSV_CHECKPOINT_ROWS (import options), BENCH_CSV_TRACE=1 (child memory),
//   BENCH_CSV_DUCKDB_OPTIONS='{"threads":"1"}' (more DuckDB settings for the child)
//
// The two "floor" lines show what no import into our schema can beat: the typed read_csv straight
// into `sales` with no checks, then every cell read as text with only the rule set's fast path as
// a filter (the text is what tells "+5", "1e3", "7.5" from the plain numbers the rule set takes;
// no quarantine, no dedup, no file check).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatabaseWriter,
  listRejects,
  migrate,
  SALE_FAST_VALUES_SQL,
  saleFastSql,
  WriterLock,
} from '@datasync/db';
import { startLocalRedis } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { importSalesCsv } from '../dist/sales-sync/csv-import.js';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 1_000_000);
const BIG_ROWS = Number(process.env.BENCH_CSV_BIG_ROWS ?? 10_000_000);
const MEMORY_LIMIT = process.env.BENCH_CSV_MEMORY_LIMIT ?? '128MB';
const ROUNDS = Number(process.env.BENCH_CSV_ROUNDS ?? 2);
const CHUNK_ROWS = process.env.BENCH_CSV_CHUNK_ROWS ? Number(process.env.BENCH_CSV_CHUNK_ROWS) : undefined;
const limits = {
  ...(CHUNK_ROWS ? { limits: { rows: CHUNK_ROWS, bytes: 1 << 30 } } : {}),
  ...(process.env.BENCH_CSV_CHECKPOINT_ROWS
    ? { checkpointRows: Number(process.env.BENCH_CSV_CHECKPOINT_ROWS) }
    : {}),
};
/** Every BAD_EVERY-th row has quantity 0: about 0.1% of the rows are quarantined. */
const BAD_EVERY = 997;
const logger = pino({ level: 'silent' });

/** A sales file made by DuckDB: ids, quoted names with commas, money with 2 decimals, some bad rows. */
async function makeFile(path, rows, clean = false) {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (
    SELECT 'S-' || i AS id, DATE '2026-01-01' + (i % 300)::INTEGER AS date, (i % 5000) + 1 AS user_id,
      CASE WHEN i % 7 = 0 THEN 'Desk, model ' || (i % 500) ELSE 'Product ' || (i % 500) END AS product_name,
      CASE WHEN i % ${BAD_EVERY} = 0 AND NOT ${clean} THEN 0 ELSE (i % 5) + 1 END AS quantity,
      ((1000 + (i % 997)) / 100)::DECIMAL(18,2) AS unit_price,
      (((1000 + (i % 997)) * ((i % 5) + 1)) / 100)::DECIMAL(18,2) AS total_amount,
      ['EU', 'North America', 'APAC'][(i % 3) + 1] AS region
    FROM range(${rows}) t(i)) TO '${path}' (HEADER)`);
  conn.disconnectSync();
  db.closeSync();
  return clean ? 0 : Math.ceil(rows / BAD_EVERY);
}

/** The benchmark's 100 %: DuckDB's read_csv with the sale columns typed, as the issue defines it. */
const TYPED_COLUMNS = `columns = {'id': 'VARCHAR', 'date': 'DATE', 'user_id': 'BIGINT', 'product_name': 'VARCHAR',
  'quantity': 'INTEGER', 'unit_price': 'DECIMAL(18,4)', 'total_amount': 'DECIMAL(18,4)', 'region': 'VARCHAR'}`;
const TYPED = `, header = true, auto_detect = false, ${TYPED_COLUMNS}, store_rejects = true`;

async function rawReadCsv(file, dir, options = '') {
  const path = join(dir, `raw-${randomUUID()}.duckdb`);
  const db = await DuckDBInstance.create(path);
  const conn = await db.connect();
  const started = performance.now();
  await conn.run(`CREATE TABLE raw AS SELECT * FROM read_csv('${file}'${options})`);
  const seconds = (performance.now() - started) / 1000;
  conn.disconnectSync();
  db.closeSync();
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
  return seconds;
}

/**
 * The floor under any import of this file into our schema: one statement from read_csv into
 * `sales` (its 11 columns, three of them the same for every row), with no quarantine, no dedup,
 * no file check. `check`: keep only the rows the strict fast path of the rule set accepts (all
 * but the invalid ones here), as an import must at the least.
 */
async function floorInsert(file, dir, check) {
  const path = join(dir, `floor-${randomUUID()}.duckdb`);
  const db = await DuckDBInstance.create(path);
  const conn = await db.connect();
  await migrate(conn);
  await conn.run('CHECKPOINT');
  const names = ['id', 'date', 'user_id', 'product_name', 'quantity', 'unit_price', 'total_amount', 'region'];
  const columns = names.map((n) => `'${n}': 'VARCHAR'`).join(', ');
  const read = check
    ? `read_csv('${file}', header = true, auto_detect = false, columns = {${columns}}, delim = ',', quote = '"', escape = '"')`
    : `read_csv('${file}'${TYPED})`;
  const started = performance.now();
  const inserted = check
    ? await conn.run(
        `INSERT INTO sales SELECT 'csv', id, ${SALE_FAST_VALUES_SQL}, 'floor', now() FROM ${read} WHERE ${saleFastSql()}`,
        { latest: '2100-01-01' },
      )
    : await conn.run(
        `INSERT INTO sales SELECT 'csv', id, date, user_id, product_name, quantity, unit_price, total_amount, region, 'floor', now() FROM ${read}`,
      );
  const seconds = (performance.now() - started) / 1000;
  conn.disconnectSync();
  db.closeSync();
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
  return { seconds, rows: inserted.rowsChanged };
}

function makeWriter(path, redis, duckdbOptions = {}) {
  const key = `bench:lock:${randomUUID()}`;
  const lock = new WriterLock({ redis, key, leaseMs: 15_000 });
  return { key, writer: new DatabaseWriter({ path, lock, logger, idleReleaseMs: 0, duckdbOptions }) };
}

async function ourImport(file, dir, redisUrl, probe = false) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const { writer, key } = makeWriter(join(dir, `ours-${randomUUID()}.duckdb`), redis);
  await writer.read(async () => undefined); // open and migrate before the clock starts
  const waits = [];
  let stop = false;
  let waiter = Promise.resolve();
  if (probe) {
    // Another process wanting the lock (a backup) every 500 ms: how long does it wait?
    const probeRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const other = new WriterLock({ redis: probeRedis, key, leaseMs: 15_000 });
    waiter = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 500));
        if (stop) break;
        const grant = await other.acquire();
        waits.push(grant.waitedMs);
        await other.release();
      }
      probeRedis.disconnect();
    })();
  }
  const started = performance.now();
  const result = await importSalesCsv(
    { writer, logger, workDir: join(dir, 'chunks'), ...limits },
    { importId: randomUUID(), file, fileName: 'bench.csv', force: false },
  );
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await waiter;
  const rejects = await writer.read((conn) =>
    listRejects(conn, { importId: result.importId, limit: 5, offset: 0 }),
  );
  await writer.close();
  redis.disconnect();
  return { seconds, result, rejects, waits };
}

/** The child process of the 10M run: imports the file with a worker's memory settings. */
async function child(file, dir, redisUrl) {
  if (process.env.BENCH_CSV_TRACE) {
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (n) => Math.round(n / 1048576);
      process.stderr.write(
        `rss ${mb(m.rss)} heap ${mb(m.heapUsed)} external ${mb(m.external)} buffers ${mb(m.arrayBuffers)}\n`,
      );
    }, 1000).unref();
  }
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const { writer } = makeWriter(join(dir, 'big.duckdb'), redis, {
    memory_limit: MEMORY_LIMIT,
    ...JSON.parse(process.env.BENCH_CSV_DUCKDB_OPTIONS ?? '{}'),
  });
  const started = performance.now();
  const result = await importSalesCsv(
    { writer, logger, workDir: join(dir, 'chunks'), ...limits },
    { importId: randomUUID(), file, fileName: 'big.csv', force: false },
  );
  const seconds = (performance.now() - started) / 1000;
  await writer.close();
  redis.disconnect();
  process.stdout.write(
    `${JSON.stringify({ seconds, result, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}

function runChild(file, dir, redisUrl) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child', file, dir, redisUrl], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()))
        : reject(new Error(`child exited ${code}`)),
    );
  });
}

const line = (label, value) => console.log(`  ${label.padEnd(44)} ${value}`);
const rate = (rows, seconds) =>
  `${Math.round(rows / seconds).toLocaleString('en-US')} rows/s (${seconds.toFixed(2)} s)`;

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], process.argv[5]);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'datasync-csv-bench-'));
const redis = await startLocalRedis({ dir: join(dir, 'redis'), quiet: true });
try {
  mkdirSync(join(dir, 'chunks'));
  const file = join(dir, 'sales.csv');
  const bad = await makeFile(file, ROWS);
  console.log(
    `CSV import benchmark: ${ROWS.toLocaleString('en-US')} rows, ${(statSync(file).size / 1e6).toFixed(0)} MB, ${bad} invalid, ids on every row`,
  );
  let raw = Infinity;
  let rawAuto = Infinity;
  let rawText = Infinity;
  let ours = null;
  let floor = Infinity;
  let floorChecked = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    raw = Math.min(raw, await rawReadCsv(file, dir, TYPED));
    rawAuto = Math.min(rawAuto, await rawReadCsv(file, dir));
    rawText = Math.min(rawText, await rawReadCsv(file, dir, ', all_varchar = true'));
    floor = Math.min(floor, (await floorInsert(file, dir, false)).seconds);
    floorChecked = Math.min(floorChecked, (await floorInsert(file, dir, true)).seconds);
    const run = await ourImport(file, dir, redis.url);
    if (!ours || run.seconds < ours.seconds) ours = run;
  }
  const { result } = ours;
  if (result.received !== ROWS || result.rejected !== bad || result.accepted !== ROWS - bad) {
    throw new Error(`unexpected counts: ${JSON.stringify(result)}`);
  }
  const lines = ours.rejects.items.map((r) => r.rowNumber);
  const expectedLines = [0, 1, 2, 3, 4].map((k) => k * BAD_EVERY + 2);
  if (JSON.stringify(lines) !== JSON.stringify(expectedLines)) {
    throw new Error(`reject lines ${lines} where ${expectedLines} were expected`);
  }
  line(`DuckDB typed read_csv into a table (best of ${ROUNDS})`, rate(ROWS, raw));
  line('  the same, types auto-detected', rate(ROWS, rawAuto));
  line('  the same, every column as text', rate(ROWS, rawText));
  line(`our import (best of ${ROUNDS})`, `${rate(ROWS, ours.seconds)}, ${result.chunks} chunks`);
  line('our import / typed read_csv', `${((raw / ours.seconds) * 100).toFixed(1)} % (target >= 60 %)`);
  line('our import / read_csv as text', `${((rawText / ours.seconds) * 100).toFixed(1)} %`);
  line(
    'floor: typed read_csv into sales, no checks',
    `${rate(ROWS, floor)} = ${((raw / floor) * 100).toFixed(1)} % of typed read_csv`,
  );
  line(
    'floor: text cells, fast rule check only',
    `${rate(ROWS, floorChecked)} = ${((raw / floorChecked) * 100).toFixed(1)} % of typed read_csv`,
  );
  line('reject lines checked', `${lines.join(', ')} ... (every ${BAD_EVERY}th row, header = line 1)`);
  const cleanFile = join(dir, 'clean.csv');
  await makeFile(cleanFile, ROWS, true);
  let clean = null;
  for (let round = 0; round < ROUNDS; round++) {
    const run = await ourImport(cleanFile, dir, redis.url);
    if (run.result.accepted !== ROWS) throw new Error(`clean file: ${JSON.stringify(run.result)}`);
    if (!clean || run.seconds < clean.seconds) clean = run;
  }
  rmSync(cleanFile, { force: true });
  line(
    'our import of the same rows, none invalid',
    `${rate(ROWS, clean.seconds)} = ${((raw / clean.seconds) * 100).toFixed(1)} % of typed read_csv`,
  );
  const probed = await ourImport(file, dir, redis.url, true);
  line(
    'lock waiter during an import (every 500 ms)',
    `longest wait ${Math.max(0, ...probed.waits)} ms over ${probed.waits.length} waits (import ${probed.seconds.toFixed(2)} s)`,
  );
  if (BIG_ROWS > 0) {
    const big = join(dir, 'big.csv');
    await makeFile(big, BIG_ROWS);
    rmSync(file, { force: true });
    const run = await runChild(big, dir, redis.url);
    line(
      `child importing ${BIG_ROWS.toLocaleString('en-US')} rows`,
      `${rate(run.result.received, run.seconds)}, peak RSS ${run.maxRssMb.toFixed(0)} MB (target < 500 MB; DuckDB memory_limit ${MEMORY_LIMIT})`,
    );
  } else {
    line('10M-row child run', 'skipped (BENCH_CSV_BIG_ROWS=0)');
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
