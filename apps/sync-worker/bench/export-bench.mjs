// Export of a 1,000,000-row sales table with COPY ... TO, as CSV and as Parquet: rows/s, file size
// and the process's peak RSS. Against the built dist and a DuckDB file in a temp folder.
//
//   node apps/sync-worker/bench/export-bench.mjs    (BENCH_EXPORT_ROWS=1000000)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTable, migrate } from '@datasync/db';
import { DuckDBInstance } from '@duckdb/node-api';

const ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'datasync-export-bench-'));
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
try {
  const instance = await DuckDBInstance.create(join(dir, 'bench.duckdb'));
  const conn = await instance.connect();
  await migrate(conn);
  // Bench data only: the same shapes the ingest writes (a quarter with an upstream id).
  await conn.run(`INSERT INTO sales
    SELECT 'bench', CASE WHEN i % 4 = 0 THEN 'up-' || i END, DATE '2026-01-01' + (i % 365)::INTEGER,
           i % 5000 + 1, 'Product ' || (i % 500), i % 5 + 1, (1000 + i % 997) / 100,
           (1000 + i % 997) * (i % 5 + 1) / 100, ['EU', 'NA', 'APAC', 'LATAM'][i % 4 + 1],
           'b-' || (i // 1000), now()
    FROM range(${ROWS}) t(i)`);
  await conn.run('CHECKPOINT');
  for (const format of ['csv', 'parquet']) {
    for (const [label, range] of [
      ['all', {}],
      ['one month', { from: '2026-03-01', to: '2026-03-31' }],
    ]) {
      const path = join(dir, `sales-${label.replace(' ', '-')}.${format}`);
      const started = performance.now();
      const { rows, bytes } = await exportTable(conn, { table: 'sales', format, ...range }, path);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `export ${format.padEnd(7)} ${label.padEnd(9)} ${String(rows).padStart(8)} rows  ${mb(bytes).padStart(10)}  ${seconds.toFixed(2)} s  ${Math.round(rows / seconds)} rows/s`,
      );
      rmSync(path);
    }
  }
  console.log(`peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`);
  conn.disconnectSync();
  instance.closeSync();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
