// `npm run bench`: builds, then runs every benchmark against real processes, Redis and DuckDB
// files in temp folders, and prints the figures. Timing goals are measured here, never in tests.
//   BENCH_ONLY=ingest,csv   runs a subset (ingest, csv, users, backup, snapshot, dashboard, migrate, export, stream, parquet, ndjson, login, sql)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ensureChromium,
  ensurePnpm,
  ensurePostgresql,
  ensureRedisServer,
  ensureSlapd,
  installWorkspace,
  log,
  nodeVersionOk,
  ROOT,
  run,
} from './bootstrap.mjs';

const BENCHES = [
  {
    name: 'ingest',
    file: 'apps/sync-worker/bench/ingest-bench.mjs',
    what: 'end-to-end ingest vs the raw Appender; one vs two sync-workers and api processes; the leader SIGKILLed under load',
  },
  { name: 'csv', file: 'apps/sync-worker/bench/csv-bench.mjs', what: 'CSV import vs DuckDB read_csv' },
  {
    name: 'users',
    file: 'apps/sync-worker/bench/user-import-bench.mjs',
    what: 'user import vs the argon2id limit',
  },
  {
    name: 'backup',
    file: 'apps/backup-worker/bench/backup-bench.mjs',
    what: 'backup and restore of 1M rows',
  },
  {
    name: 'snapshot',
    file: 'apps/backup-worker/bench/snapshot-bench.mjs',
    what: 'the analytics snapshot at 10M and 100M rows (BENCH_SNAPSHOT_ROWS)',
  },
  {
    name: 'dashboard',
    file: 'tests/e2e/bench/dashboard-bench.ts',
    what: 'dashboard queries, time to charts and live delay on 10M rows (BENCH_DASHBOARD_ROWS)',
    // A whole stack and chromium: run by vitest in the e2e package, like its tests.
    args: (pnpm) => [pnpm, ['--filter', '@datasync/e2e', 'bench']],
  },
  {
    name: 'migrate',
    file: 'apps/sync-worker/bench/migrate-bench.mjs',
    what: "migration of an old-script database of 1M sales and 10,000 users, with the report's figures",
  },
  {
    name: 'export',
    file: 'apps/sync-worker/bench/export-bench.mjs',
    what: 'export of 1M sales as CSV and Parquet',
  },
  {
    name: 'stream',
    file: 'apps/sync-worker/bench/stream-bench.mjs',
    what: 'Redis Stream source: rows/s into DuckDB (backlog and live), beside the HTTP ingest figure',
  },
  {
    name: 'parquet',
    file: 'apps/sync-worker/bench/files-bench.mjs',
    what: 'Parquet import vs DuckDB read_parquet',
    args: () => [process.execPath, ['apps/sync-worker/bench/files-bench.mjs', 'parquet']],
  },
  {
    name: 'ndjson',
    file: 'apps/sync-worker/bench/files-bench.mjs',
    what: 'NDJSON import vs DuckDB read_json',
    args: () => [process.execPath, ['apps/sync-worker/bench/files-bench.mjs', 'ndjson']],
  },
  {
    name: 'login',
    file: 'apps/api/bench/directory-login-bench.mjs',
    what: 'directory sign-in against a real slapd: wrong password vs unknown user timing',
  },
  {
    name: 'sql',
    file: 'apps/sync-worker/bench/sql-bench.mjs',
    what: 'SQL source: a 1M-row PostgreSQL table pulled into DuckDB (rows/s, peak RSS)',
  },
];

nodeVersionOk();
const pnpm = ensurePnpm();
installWorkspace(pnpm);
ensureRedisServer();
run(pnpm, ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
let failed = 0;
for (const bench of BENCHES) {
  if (only && !only.includes(bench.name)) continue;
  const file = join(ROOT, bench.file);
  if (!existsSync(file)) {
    log(`skipping ${bench.name}: ${bench.file} does not exist`);
    continue;
  }
  log(`${bench.name}: ${bench.what}`);
  if (bench.name === 'dashboard') ensureChromium();
  if (bench.name === 'login') ensureSlapd();
  if (bench.name === 'sql') ensurePostgresql();
  const [cmd, args] = bench.args?.(pnpm) ?? [process.execPath, [file]];
  const r = spawnSync(cmd, args, { cwd: bench.args ? ROOT : join(file, '..', '..'), stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    log(`${bench.name} failed with exit code ${r.status}`);
  }
}
process.exit(failed ? 1 : 0);
