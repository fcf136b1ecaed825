// Migration benchmark (against the built dist): an old-script database of 1,000,000 sales and
// 10,000 users (plus the sample bad rows and plaintext/bcrypt users) migrated through the worker's
// migration function (attach read-only, rules, ledger, report), then migrated again (a no-op).
// Prints the verification report's figures and the durations.
//
//   node apps/sync-worker/bench/migrate-bench.mjs   (BENCH_MIGRATE_SALES=1000000 BENCH_MIGRATE_USERS=10000
//                                                     BENCH_MIGRATE_CHUNK=500000, the CSV_CHUNK_ROWS default)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createOldScriptDatabase,
  DatabaseWriter,
  OLD_SCRIPT_SAMPLE_SALES,
  OLD_SCRIPT_SAMPLE_USERS,
  WriterLock,
} from '@datasync/db';
import { startLocalRedis } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { migrateLegacyDatabase } from '../dist/migrate/migrate-legacy.js';

const SALES = Number(process.env.BENCH_MIGRATE_SALES ?? 1_000_000);
const USERS = Number(process.env.BENCH_MIGRATE_USERS ?? 10_000);
const CHUNK = Number(process.env.BENCH_MIGRATE_CHUNK ?? 500_000);

const dir = mkdtempSync(join(tmpdir(), 'datasync-migrate-bench-'));
const redis = await startLocalRedis({ dir: join(dir, 'redis'), appendfsync: 'always', quiet: true });
const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
const logger = pino({ level: 'silent' });
const writer = new DatabaseWriter({
  path: join(dir, 'dashboard.duckdb'),
  lock: new WriterLock({ redis: connection, leaseMs: 15_000 }),
  logger,
  idleReleaseMs: 0,
});
const old = join(dir, 'old.duckdb');
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
try {
  let started = performance.now();
  await createOldScriptDatabase(old, {
    sales: SALES,
    users: USERS,
    extraSales: OLD_SCRIPT_SAMPLE_SALES,
    extraUsers: OLD_SCRIPT_SAMPLE_USERS,
  });
  console.log(
    `old database: ${SALES} sales + ${OLD_SCRIPT_SAMPLE_SALES.length} sample rows, ${USERS} users + ${OLD_SCRIPT_SAMPLE_USERS.length} sample users, built in ${s(performance.now() - started)}`,
  );
  const migrate = (dryRun) =>
    migrateLegacyDatabase(
      { writer, logger, chunkRows: CHUNK },
      { jobId: 'bench', file: old, fileName: 'old.duckdb', dryRun, map: [] },
    );

  started = performance.now();
  await migrate(true);
  const dryMs = performance.now() - started;
  started = performance.now();
  const report = await migrate(false);
  const ms = performance.now() - started;
  started = performance.now();
  const again = await migrate(false);
  const againMs = performance.now() - started;

  console.log('\nper table:');
  for (const t of report.tables) {
    console.log(
      `  ${t.table.padEnd(6)} read ${t.read}  stored ${t.stored}  rejected ${t.rejected}  existing ${t.existing}  chunks ${t.chunks}`,
    );
  }
  console.log(
    `  users: ${report.users.keptHashes} kept their hash, ${report.users.mustChangePassword} must set a password`,
  );
  const sum = (key) => report.months.reduce((acc, m) => acc + BigInt(m[key].revenue.replace('.', '')), 0n);
  const money = (cents) => `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;
  const rows = (key) => report.months.reduce((acc, m) => acc + m[key].rows, 0);
  console.log(
    `\nmonths: ${report.months.length}; rows before ${rows('before')}, after ${rows('after')}, rejected ${rows('rejected')}`,
  );
  console.log(
    `revenue before ${money(sum('before'))}, after ${money(sum('after'))}, rejected ${money(sum('rejected'))}`,
  );
  console.log(
    `months that differ: ${report.differences.filter((d) => /^\d{4}-\d{2}|^invalid/.test(d)).length}`,
  );
  for (const d of report.differences) console.log(`  ${d}`);
  const salesRows = report.tables.find((t) => t.table === 'sales').read;
  console.log(`\nmigration: ${s(ms)} (${Math.round(salesRows / (ms / 1000))} old sales/s, report included)`);
  console.log(
    `dry run first: ${s(dryMs)}; second run (every chunk skipped, nothing written): ${s(againMs)}, skipped ${again.tables.find((t) => t.table === 'sales').chunksSkipped} chunks`,
  );
} finally {
  await writer.close();
  connection.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
