// Parquet and NDJSON import benchmark (against the built dist). For each format, on the same
// 1,000,000-row file (ids on every row, every 997th row invalid): DuckDB's own bare read of it
// into a table of a fresh database file (read_parquet / read_json, types as DuckDB finds them),
// this import of it (sha256 pass, the rule set in SQL over the text of every value, quarantine
// with row or line numbers, upsert by id, chunked commits with the ledger), and their ratio.
//
//   node apps/sync-worker/bench/files-bench.mjs [parquet|ndjson]   (both without an argument)
//   BENCH_FILES_ROWS=1000000  BENCH_FILES_ROUNDS=2 (best of)
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import { startLocalRedis } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { importSalesCsv } from '../dist/sales-sync/csv-import.js';

const ROWS = Number(process.env.BENCH_FILES_ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_FILES_ROUNDS ?? 2);
const BAD_EVERY = 997;
const FORMATS = process.argv[2] ? [process.argv[2]] : ['parquet', 'ndjson'];
const logger = pino({ level: 'silent' });

async function makeFile(path, format) {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (
    SELECT 'S-' || i AS id, (DATE '2026-01-01' + (i % 300)::INTEGER)::VARCHAR AS date, (i % 5000) + 1 AS user_id,
      'Product ' || (i % 500) AS product_name,
      CASE WHEN i % ${BAD_EVERY} = 0 THEN 0 ELSE (i % 5) + 1 END AS quantity,
      ((1000 + (i % 997)) / 100)::DECIMAL(18,2) AS unit_price,
      (((1000 + (i % 997)) * ((i % 5) + 1)) / 100)::DECIMAL(18,2) AS total_amount,
      ['EU', 'North America', 'APAC'][(i % 3) + 1] AS region
    FROM range(${ROWS}) t(i) ORDER BY i) TO '${path}' (FORMAT ${format === 'parquet' ? 'parquet' : 'json'})`);
  conn.disconnectSync();
  db.closeSync();
}

async function bareRead(file, format, dir) {
  const db = await DuckDBInstance.create(join(dir, `raw-${randomUUID()}.duckdb`));
  const conn = await db.connect();
  const reader =
    format === 'parquet' ? `read_parquet('${file}')` : `read_json('${file}', format = 'newline_delimited')`;
  const started = performance.now();
  await conn.run(`CREATE TABLE raw AS SELECT * FROM ${reader}`);
  const seconds = (performance.now() - started) / 1000;
  conn.disconnectSync();
  db.closeSync();
  return seconds;
}

async function ourImport(file, format, dir, redisUrl) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const lock = new WriterLock({ redis, key: `bench:lock:${randomUUID()}`, leaseMs: 15_000 });
  const writer = new DatabaseWriter({
    path: join(dir, `ours-${randomUUID()}.duckdb`),
    lock,
    logger,
    idleReleaseMs: 0,
  });
  await writer.read(async () => undefined); // open and migrate before the clock starts
  const started = performance.now();
  const result = await importSalesCsv(
    { writer, logger, workDir: join(dir, 'chunks') },
    { importId: randomUUID(), file, fileName: `bench.${format}`, force: false, format },
  );
  const seconds = (performance.now() - started) / 1000;
  await writer.close();
  redis.disconnect();
  return { seconds, result };
}

const dir = mkdtempSync(join(tmpdir(), 'datasync-files-bench-'));
const redis = await startLocalRedis({ dir: join(dir, 'redis'), quiet: true });
try {
  mkdirSync(join(dir, 'chunks'));
  for (const format of FORMATS) {
    const file = join(dir, `sales.${format}`);
    await makeFile(file, format);
    const mb = (statSync(file).size / 1e6).toFixed(0);
    let bare = Infinity;
    let ours = null;
    for (let round = 0; round < ROUNDS; round++) {
      bare = Math.min(bare, await bareRead(file, format, dir));
      const run = await ourImport(file, format, dir, redis.url);
      if (!ours || run.seconds < ours.seconds) ours = run;
    }
    const bareRate = ROWS / bare;
    const ourRate = ROWS / ours.seconds;
    const { received, accepted, rejected, chunks } = ours.result;
    console.log(`${format}: ${ROWS.toLocaleString('en')} rows, ${mb} MB, best of ${ROUNDS}`);
    console.log(
      `  DuckDB ${format === 'parquet' ? 'read_parquet' : 'read_json'} into a table: ${Math.round(bareRate).toLocaleString('en')} rows/s (${bare.toFixed(2)} s)`,
    );
    console.log(
      `  this import: ${Math.round(ourRate).toLocaleString('en')} rows/s (${ours.seconds.toFixed(2)} s; ${accepted} stored, ${rejected} rejected of ${received}, ${chunks} chunks)`,
    );
    console.log(`  ratio: ${((100 * ourRate) / bareRate).toFixed(1)} % of the bare read`);
    if (received !== ROWS || rejected !== Math.ceil(ROWS / BAD_EVERY))
      throw new Error('the import counted wrong');
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
