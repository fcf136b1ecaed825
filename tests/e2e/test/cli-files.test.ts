import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasync, type Stack, startStack } from './stack.js';

/** `datasync sync-sales --file` against a stack started as `npm start` starts it. */
let stack: Stack;
const dir = tempDir('datasync-cli-files-');

beforeAll(async () => {
  stack = await startStack();
}, 300_000);

afterAll(async () => {
  await stack?.cleanup();
  dir.cleanup();
});

describe('datasync sync-sales --file', () => {
  it('finds Parquet and NDJSON from the content whatever the file is called, and prints the import summary; exit 0', async () => {
    const parquet = join(dir.path, 'export.dat');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(`COPY (SELECT 'Q-' || i AS id, DATE '2026-01-03' AS date, i + 1 AS user_id, 'Mug' AS product_name,
      CASE WHEN i = 2 THEN 0 ELSE 1 END AS quantity, 4.50 AS unit_price, 4.50 AS total_amount, 'EU' AS region
      FROM range(5) t(i) ORDER BY i) TO '${parquet}' (FORMAT parquet)`);
    conn.disconnectSync();
    db.closeSync();
    const run = await datasync(stack, ['sync-sales', '--file', parquet]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^received\s+5$/m);
    expect(run.stdout).toMatch(/^accepted\s+4$/m);
    expect(run.stdout).toMatch(/^rejected\s+1$/m);
    expect(run.stdout).toMatch(/^format\s+parquet$/m);

    const ndjson = join(dir.path, 'lines.txt');
    writeFileSync(
      ndjson,
      `${JSON.stringify({ date: '2026-01-04', user_id: 9, product_name: 'Cup', quantity: 1, unit_price: 2, total_amount: 2, region: 'EU' })}\n{oops\n`,
    );
    const json = await datasync(stack, ['sync-sales', '--file', ndjson, '--json']);
    expect(json.code, json.stdout + json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).result).toMatchObject({
      format: 'ndjson',
      received: 2,
      accepted: 1,
      rejected: 1,
    });
  });

  it('--format forces the format: a CSV read as Parquet fails naming the problem; a bad --format is a usage error', async () => {
    const csv = join(dir.path, 'plain.csv');
    writeFileSync(csv, 'id,date,user_id,product_name,quantity,unit_price,total_amount,region\n');
    const forced = await datasync(stack, ['sync-sales', '--file', csv, '--format', 'parquet']);
    expect(forced.code).not.toBe(0);
    expect(forced.stdout).toMatch(/FAILED.*the file is not a readable Parquet file/);
    const bad = await datasync(stack, ['sync-sales', '--file', csv, '--format', 'xlsx']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--format must be one of csv, parquet, ndjson/);
  });
});
