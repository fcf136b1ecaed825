import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_COLUMNS } from '@datasync/db';
import { spawnNode, tempDir, waitFor } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_KEY, makeStack, sale } from './e2e-helpers.js';

/**
 * `datasync export` end to end: the CLI as a process, the api listening on loopback, a real
 * sync-worker process writing the file with DuckDB's COPY; what arrives is read back with DuckDB
 * and compared with the database row for row.
 */

const CLI = join(import.meta.dirname, '..', '..', '..', 'apps', 'cli', 'dist', 'main.js');
const OPERATOR_KEY = 'operator-secret-0123456789';
const auth = { authorization: `Bearer ${OPERATOR_KEY}` };
const SALES = 24_000; // a few MB of CSV: enough for a client to leave mid-file
const USER_PASSWORD = 'Pw-export-e2e-secret-1';

let stack: Awaited<ReturnType<typeof makeStack>>;
let base = '';
const out = tempDir('datasync-export-out-');

beforeAll(async () => {
  stack = await makeStack({ API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}` });
  base = await stack.app.listen({ host: '127.0.0.1', port: 0 });
  await stack.startWorker();
  const dates = ['2026-01-01', '2026-01-15', '2026-01-31', '2026-02-01'];
  for (let start = 0; start < SALES; start += 8_000) {
    const batch = Array.from({ length: 8_000 }, (_, k) =>
      sale(start + k, { date: dates[(start + k) % 4], ...(k % 1000 === 0 ? { id: `UP-${start + k}` } : {}) }),
    );
    const res = await stack.post(start === 0 ? [...batch, { date: 'not-a-date' }] : batch, {}, '?wait=true');
    expect(res.statusCode, res.body).toBe(202);
  }
  writeFileSync(
    join(out.path, 'users.csv'),
    `username,email,role,initial_password\nalice,alice@example.com,admin,${USER_PASSWORD}\nbob,bob@example.com,user,${USER_PASSWORD}\n`,
  );
  const users = await datasync(['import-users', join(out.path, 'users.csv')]);
  expect(users.code, users.out).toBe(0);
}, 180_000);

afterAll(async () => {
  await stack?.close();
  out.cleanup();
});

async function datasync(args: string[]) {
  const p = spawnNode(CLI, { DATASYNC_URL: base, DATASYNC_API_KEY: OPERATOR_KEY }, args);
  const { code } = await p.exited();
  return { code, out: p.output() };
}

/** A file read with a DuckDB of its own, every value as text. */
async function readExport(path: string) {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const from = path.endsWith('.csv')
      ? `read_csv('${path}', header = true, all_varchar = true)`
      : `'${path}'`;
    const columns = (await conn.runAndReadAll(`SELECT * FROM ${from} LIMIT 0`)).columnNames();
    const rows = await conn.runAndReadAll(
      `SELECT ${columns.map((c) => `"${c}"::VARCHAR AS "${c}"`).join(', ')} FROM ${from}`,
    );
    return { columns, rows: rows.getRowObjectsJson() };
  } finally {
    conn.disconnectSync();
    instance.closeSync();
  }
}

/** The sales the database holds, in the export's order, every value as text. */
const storedSales = (from = '0001-01-01', to = '9999-12-31') =>
  stack.readDb(async (conn) =>
    (
      await conn.runAndReadAll(
        `SELECT external_id AS id, date::VARCHAR AS date, user_id::VARCHAR AS user_id, product_name,
                quantity::VARCHAR AS quantity, unit_price::VARCHAR AS unit_price,
                total_amount::VARCHAR AS total_amount, region, source, batch_id
         FROM sales WHERE date BETWEEN $1::DATE AND $2::DATE ORDER BY date, ingested_at, rowid`,
        [from, to],
      )
    ).getRowObjectsJson(),
  );

const withoutIngestedAt = (rows: Record<string, unknown>[]) => rows.map(({ ingested_at, ...rest }) => rest);
const exportsLeft = () => {
  const dir = join(stack.env.IMPORT_DIR!, '.exports');
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('datasync export against the api and a real sync-worker', () => {
  it('exports the sales as CSV to --out FILE: the same rows as the database, then the file on the server is gone', async () => {
    const file = join(out.path, 'sales.csv');
    const run = await datasync(['export', 'sales', '--format', 'csv', '--out', file]);
    expect(run.code, run.out).toBe(0);
    const bytes = readFileSync(file).length;
    expect(run.out).toContain(`exported ${SALES} sales rows (${bytes} bytes, csv) to ${file}`);
    const back = await readExport(file);
    expect(back.columns).toEqual(EXPORT_COLUMNS.sales);
    expect(withoutIngestedAt(back.rows)).toEqual(await storedSales());
    expect(readdirSync(out.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await waitFor(() => exportsLeft().length === 0, { what: 'the sent export file to be removed' });
  });

  it('exports the sales of from..to as Parquet, typed, the same rows as the database', async () => {
    const file = join(out.path, 'january.parquet');
    const run = await datasync([
      'export',
      'sales',
      '--format',
      'parquet',
      '--from',
      '2026-01-15',
      '--to',
      '2026-01-31',
      '--out',
      file,
    ]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`exported ${SALES / 2} sales rows`);
    expect(readFileSync(file).subarray(0, 4).toString()).toBe('PAR1');
    const back = await readExport(file);
    expect(withoutIngestedAt(back.rows)).toEqual(await storedSales('2026-01-15', '2026-01-31'));
  });

  it('writes CSV to stdout without --out, and the HTTP answer is an attachment with its row count', async () => {
    const run = await datasync(['export', 'sales', '--from', '2026-02-01', '--json']);
    expect(run.code).toBe(0);
    const lines = run.out.trimEnd().split('\n');
    expect(lines[0]).toBe(EXPORT_COLUMNS.sales.join(','));
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({
      table: 'sales',
      format: 'csv',
      rows: SALES / 4,
      file: null,
    });
    expect(lines).toHaveLength(1 + SALES / 4 + 1);

    const res = await fetch(`${base}/v1/exports/sales?format=csv&from=2026-02-01&to=2026-02-01`, {
      headers: auth,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="sales-from-2026-02-01-to-2026-02-01.csv"',
    );
    expect(res.headers.get('x-export-rows')).toBe(String(SALES / 4));
    const body = await res.text();
    expect(Buffer.byteLength(body)).toBe(Number(res.headers.get('content-length')));
  });

  it('exports users without their password hashes, and the quarantined record', async () => {
    const file = join(out.path, 'users.parquet');
    const run = await datasync(['export', 'users', '--format', 'parquet', '--out', file]);
    expect(run.code, run.out).toBe(0);
    const users = await readExport(file);
    expect(users.columns).toEqual(EXPORT_COLUMNS.users);
    expect(users.rows.map((r) => [r.username, r.email, r.role, r.must_change_password])).toEqual([
      ['alice', 'alice@example.com', 'admin', 'true'],
      ['bob', 'bob@example.com', 'user', 'true'],
    ]);
    const text = readFileSync(file).toString('latin1');
    expect(text).not.toMatch(/argon2|scrypt/);
    expect(text).not.toContain(USER_PASSWORD);

    const rejects = await datasync(['export', 'rejects']);
    expect(rejects.code).toBe(0);
    expect(rejects.out).toContain('not-a-date');
    expect(rejects.out).toContain('exported 1 rejects rows');
  });

  it('a client that leaves mid-file leaves no export file behind', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/v1/exports/sales?format=csv`, {
      headers: auth,
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor(() => exportsLeft().length === 0, { what: 'the abandoned export file to be removed' });
  });

  it('refuses a bad table, format or date: 400 naming the field over HTTP, exit 2 with the message from the CLI', async () => {
    const problem = async (url: string) => {
      const res = await fetch(`${base}${url}`, { headers: auth });
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      return { status: res.status, body: (await res.json()) as { detail: string; errors?: unknown[] } };
    };
    const table = await problem('/v1/exports/orders');
    expect(table.status).toBe(400);
    expect(JSON.stringify(table.body)).toContain('table must be one of sales, rejects, users');
    const format = await problem('/v1/exports/sales?format=xlsx');
    expect(format.status).toBe(400);
    expect(JSON.stringify(format.body)).toContain('format must be one of csv, parquet');
    const date = await problem('/v1/exports/sales?from=2026-02-30');
    expect(date.status).toBe(400);
    expect(JSON.stringify(date.body)).toContain('from must be a date, YYYY-MM-DD');
    const order = await problem('/v1/exports/sales?from=2026-02-01&to=2026-01-01');
    expect(JSON.stringify(order.body)).toContain('from must not be after to');
    expect((await fetch(`${base}/v1/exports/sales`)).status).toBe(401);

    for (const [args, message] of [
      [['export', 'orders'], 'table must be one of sales, rejects, users'],
      [['export', 'sales', '--format', 'xlsx'], 'format must be one of csv, parquet'],
      [['export', 'sales', '--from', '2026-1-5'], 'from must be a date, YYYY-MM-DD'],
      [['export', 'sales', '--from', '2026-02-01', '--to', '2026-01-01'], 'from must not be after to'],
      [['export'], 'name one table to export'],
    ] as const) {
      const run = await datasync([...args]);
      expect(run.code, run.out).toBe(2);
      expect(run.out).toContain(message);
      expect(run.out).toContain('usage: datasync export');
    }
    expect(exportsLeft()).toEqual([]);
  });

  // Last: it adds rows. The demo-to-production step of docs/operations.md, as written there.
  it('an exported sales CSV imports as it is with sync-sales --csv: every row accepted, none rejected', async () => {
    const file = join(out.path, 'demo-sales.csv');
    const exported = await datasync(['export', 'sales', '--from', '2026-02-01', '--out', file]);
    expect(exported.code, exported.out).toBe(0);
    const before = await storedSales('2026-02-01', '2026-02-01');
    const imported = await datasync(['sync-sales', '--csv', file]);
    expect(imported.code, imported.out).toBe(0);
    expect(imported.out).toMatch(new RegExp(`accepted\\s+${SALES / 4}\\n`));
    expect(imported.out).toMatch(/rejected\s+0\n/);
    const after = await storedSales('2026-02-01', '2026-02-01');
    const asImported = after.filter((r) => r.source === 'csv');
    const key = (r: Record<string, unknown>) =>
      [r.id, r.date, r.user_id, r.product_name, r.quantity, r.unit_price, r.total_amount, r.region].join('|');
    expect(asImported.map(key).sort()).toEqual(before.map(key).sort());
  });
});
