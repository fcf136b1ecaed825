import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  commitSalesBatches,
  type DatabaseWriter,
  EXPORT_COLUMNS,
  type ExportOptions,
  exportTable,
  insertUsers,
} from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const dir = tempDir('datasync-db-export-');
  const w = makeWriter(join(dir.path, 'test.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  const exportTo = (options: ExportOptions) => {
    const path = join(dir.path, `${randomUUID()}.${options.format}`);
    return w.writer.read(async (c) => ({ path, ...(await exportTable(c, options, path)) }));
  };
  return { writer: w.writer, dir: dir.path, exportTo };
}

/** Reads an exported file back with a DuckDB of its own, as any other tool would. */
async function readBack(path: string, format: 'csv' | 'parquet') {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const from = format === 'csv' ? `read_csv('${path}', header = true, all_varchar = true)` : `'${path}'`;
    const reader = await conn.runAndReadAll(`SELECT * FROM ${from}`);
    const types = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`))
      .getRowObjects()
      .map((r) => [String(r.column_name), String(r.column_type)]);
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson(), types };
  } finally {
    conn.disconnectSync();
    instance.closeSync();
  }
}

/** The stored sales as the database itself lists them, for a row-for-row comparison. */
async function storedSales(writer: DatabaseWriter, where = 'true') {
  return writer.read(async (c) =>
    (
      await c.runAndReadAll(
        `SELECT external_id AS id, date::VARCHAR AS date, user_id::VARCHAR AS user_id, product_name,
                quantity::VARCHAR AS quantity, unit_price::VARCHAR AS unit_price,
                total_amount::VARCHAR AS total_amount, region, source, batch_id
         FROM sales WHERE ${where} ORDER BY date, ingested_at, rowid`,
      )
    ).getRowObjectsJson(),
  );
}

async function seedSales(writer: DatabaseWriter) {
  const sales = [
    makeSale(1, { date: '2026-01-01', product_name: 'Pen, blue "fine"', total_amount: '0.30' }),
    makeSale(2, { date: '2026-01-15', id: 'UP-2', unit_price: '999999999.99', quantity: 1 }),
    makeSale(3, { date: '2026-01-31', product_name: 'Lamp\u00e9' }),
    makeSale(4, { date: '2026-02-01' }),
  ].map((s) => ({ ...s, total_amount: (Number(s.unit_price) * s.quantity).toFixed(2) }));
  await writer.transaction((tx) =>
    commitSalesBatches(tx, [
      {
        ...makeBatch('b-1', 0),
        source: 'shop',
        sales,
        received: 5,
        rejects: [
          { index: 4, raw: '{"date":"nope"}', reasons: [{ index: 4, path: 'date', message: 'bad' }] },
        ],
      },
    ]),
  );
}

describe('exportTable (COPY ... TO)', () => {
  it('writes the sales as CSV that reads back row for row, exact decimals, re-importable column names', async () => {
    const { writer, exportTo } = await setup();
    await seedSales(writer);
    const out = await exportTo({ table: 'sales', format: 'csv' });
    expect(out.rows).toBe(4);
    expect(out.bytes).toBe(readFileSync(out.path).length);
    const back = await readBack(out.path, 'csv');
    expect(back.columns).toEqual(EXPORT_COLUMNS.sales);
    const stored = await storedSales(writer);
    expect(stored).toHaveLength(4);
    expect(back.rows.map(({ ingested_at, ...rest }) => rest)).toEqual(stored);
    expect(back.rows.map((r) => r.unit_price)).toContain('999999999.99');
    for (const r of back.rows) expect(r.ingested_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('writes the sales as Parquet with their own types (DATE, DECIMAL(18,2), UTC timestamp)', async () => {
    const { writer, exportTo } = await setup();
    await seedSales(writer);
    const out = await exportTo({ table: 'sales', format: 'parquet' });
    expect(out.rows).toBe(4);
    expect(readFileSync(out.path).subarray(0, 4).toString()).toBe('PAR1');
    const back = await readBack(out.path, 'parquet');
    expect(back.types).toEqual([
      ['id', 'VARCHAR'],
      ['date', 'DATE'],
      ['user_id', 'BIGINT'],
      ['product_name', 'VARCHAR'],
      ['quantity', 'INTEGER'],
      ['unit_price', 'DECIMAL(18,2)'],
      ['total_amount', 'DECIMAL(18,2)'],
      ['region', 'VARCHAR'],
      ['source', 'VARCHAR'],
      ['batch_id', 'VARCHAR'],
      ['ingested_at', 'TIMESTAMP WITH TIME ZONE'],
    ]);
    const asText = back.rows.map((r) => ({
      id: r.id,
      date: r.date,
      user_id: String(r.user_id),
      product_name: r.product_name,
      quantity: String(r.quantity),
      unit_price: r.unit_price,
      total_amount: r.total_amount,
      region: r.region,
      source: r.source,
      batch_id: r.batch_id,
    }));
    expect(asText).toEqual(await storedSales(writer));
  });

  it('keeps only sales dated from..to, both days included, in either format', async () => {
    const { writer, exportTo } = await setup();
    await seedSales(writer);
    for (const format of ['csv', 'parquet'] as const) {
      const out = await exportTo({ table: 'sales', format, from: '2026-01-15', to: '2026-01-31' });
      expect(out.rows).toBe(2);
      const back = await readBack(out.path, format);
      expect(back.rows.map((r) => String(r.date))).toEqual(['2026-01-15', '2026-01-31']);
    }
    expect((await exportTo({ table: 'sales', format: 'csv', from: '2026-02-01' })).rows).toBe(1);
    expect((await exportTo({ table: 'sales', format: 'csv', to: '2026-01-01' })).rows).toBe(1);
  });

  it('an empty result is a header-only CSV and a valid Parquet file with no rows', async () => {
    const { exportTo } = await setup();
    const csv = await exportTo({ table: 'sales', format: 'csv' });
    expect(csv.rows).toBe(0);
    expect(readFileSync(csv.path, 'utf8')).toBe(`${EXPORT_COLUMNS.sales.join(',')}\n`);
    const parquet = await exportTo({ table: 'rejects', format: 'parquet' });
    expect(parquet.rows).toBe(0);
    const back = await readBack(parquet.path, 'parquet');
    expect(back).toMatchObject({ columns: EXPORT_COLUMNS.rejects, rows: [] });
  });

  it('exports the rejects with their raw record and reasons, filtered on the day they were quarantined (UTC)', async () => {
    const { writer, exportTo } = await setup();
    await seedSales(writer);
    await writer.transaction(async ({ conn }) => {
      await conn.run(`INSERT INTO rejects VALUES
        ('shop', 'b-old', 'sale', 1, '{"x":1}', '[]', '2025-12-31 23:59:59+00'),
        ('shop', 'b-edge', 'sale', 2, '{"x":2}', '[]', '2026-01-01 00:00:00+00')`);
    });
    const all = await exportTo({ table: 'rejects', format: 'csv' });
    expect(all.rows).toBe(3);
    const back = await readBack(all.path, 'csv');
    expect(back.columns).toEqual(EXPORT_COLUMNS.rejects);
    expect(back.rows.find((r) => r.batch_id === 'b-1')).toMatchObject({
      source: 'shop',
      kind: 'sale',
      row_number: '4',
      raw: '{"date":"nope"}',
    });
    const day = await exportTo({ table: 'rejects', format: 'csv', from: '2026-01-01', to: '2026-01-01' });
    expect((await readBack(day.path, 'csv')).rows).toEqual([
      expect.objectContaining({ batch_id: 'b-edge', rejected_at: '2026-01-01T00:00:00.000Z' }),
    ]);
  });

  it('exports users without their password hash, in CSV and Parquet', async () => {
    const { writer, exportTo } = await setup();
    const hash = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo';
    await writer.transaction((tx) =>
      insertUsers(
        tx,
        [
          { username: 'alice', email: 'alice@example.com', role: 'admin', passwordHash: hash },
          { username: 'bob', email: 'bob@example.com', role: 'user', passwordHash: hash },
        ],
        'job-1',
      ),
    );
    for (const format of ['csv', 'parquet'] as const) {
      const out = await exportTo({ table: 'users', format });
      expect(out.rows).toBe(2);
      expect(readFileSync(out.path).toString('latin1')).not.toContain('argon2');
      const back = await readBack(out.path, format);
      expect(back.columns).toEqual(EXPORT_COLUMNS.users);
      expect(back.columns.filter((c) => /hash|secret|^password/.test(c))).toEqual([]);
      expect(back.rows.map((r) => [r.username, r.email, r.role, String(r.must_change_password)])).toEqual([
        ['alice', 'alice@example.com', 'admin', 'true'],
        ['bob', 'bob@example.com', 'user', 'true'],
      ]);
    }
  });
});
