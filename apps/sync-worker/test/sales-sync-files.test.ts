import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { InvalidCsvFileError } from '../src/sales-sync/csv-file.js';
import { detectFileFormat } from '../src/sales-sync/sales-file.js';
import { csvOf, INTERNAL, row, setupCsvImport as setup } from './csv-test-helpers.js';

/** Writes a Parquet file with DuckDB's COPY: `select` yields the columns. */
export async function writeParquet(path: string, select: string): Promise<string> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (${select}) TO '${path}' (FORMAT parquet)`);
  conn.disconnectSync();
  db.closeSync();
  return path;
}

/** n sales; row i (0-based) has quantity 0 (invalid) when bad(i). */
const salesSelect = (n: number, bad = 'false') => `
  SELECT 'P-' || i AS id, DATE '2026-01-01' + (i % 28)::INTEGER AS date, i + 1 AS user_id,
    'Product ' || i AS product_name, CASE WHEN ${bad} THEN 0 ELSE 2 END AS quantity,
    ((1000 + i) / 100)::DECIMAL(18,2) AS unit_price, ((1000 + i) * 2 / 100)::DECIMAL(18,2) AS total_amount,
    'EU' AS region
  FROM range(${n}) t(i) ORDER BY i`;

const line = (i: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: `N-${i}`,
    date: '2026-01-05',
    user_id: i + 1,
    product_name: `Product ${i}`,
    quantity: 2,
    unit_price: 10.5,
    total_amount: '21.00',
    region: 'EU',
    ...over,
  });

describe('Parquet import', () => {
  it('stores a good file, quarantines bad rows with their 1-based row number, and a second import stores nothing', async () => {
    const t = setup({ rows: 400, bytes: 32 << 20 });
    const path = await writeParquet(join(t.importDir, 'sales.parquet'), salesSelect(1000, 'i % 100 = 7'));
    expect(await detectFileFormat(path)).toBe('parquet');
    const importId = randomUUID();
    const first = await t.run(path, { importId });
    expect(first).toMatchObject({
      format: 'parquet',
      received: 1000,
      accepted: 990,
      rejected: 10,
      chunks: 3,
    });
    const rejects = await t.rejects(importId);
    expect(rejects.items.map((r) => r.rowNumber)).toEqual([8, 108, 208, 308, 408, 508, 608, 708, 808, 908]);
    expect(rejects.items[0]!.reasons).toEqual([
      { index: 8, path: 'quantity', message: 'quantity must be between 1 and 1000000' },
    ]);
    expect(JSON.parse(rejects.items[0]!.raw)).toMatchObject({
      id: 'P-7',
      quantity: '0',
      unit_price: '10.07',
    });
    const stored = await t.writer.read(async (c) =>
      (
        await c.runAndReadAll(`SELECT count(*)::INTEGER n, sum(total_amount)::VARCHAR s FROM sales`)
      ).getRowObjects(),
    );
    expect(stored[0]).toMatchObject({ n: 990 });

    const again = await t.run(path);
    expect(again).toMatchObject({ accepted: 0, rejected: 0, duplicateOf: importId });
    const after = await t.writer.read(async (c) =>
      (
        await c.runAndReadAll(`SELECT count(*)::INTEGER n, sum(total_amount)::VARCHAR s FROM sales`)
      ).getRowObjects(),
    );
    expect(after).toEqual(stored);
  });

  it('takes typed columns in any order and case, ignores other columns, and applies the rules to their text', async () => {
    const t = setup();
    const path = await writeParquet(
      join(t.importDir, 'typed.parquet'),
      `SELECT 'EU' AS Region, 7.5::DOUBLE AS unit_price, 15 AS total_amount, 2::TINYINT AS quantity,
              'x' AS note, 'Lamp' AS product_name, 3 AS USER_ID, '2026-01-02' AS date
       UNION ALL SELECT 'EU', 0.1::DOUBLE + 0.2::DOUBLE, 1, 1, 'y', 'Pen', 4, '2026-01-03'`,
    );
    const importId = randomUUID();
    expect(await t.run(path, { importId })).toMatchObject({ received: 2, accepted: 1, rejected: 1 });
    expect(await t.sales()).toEqual([
      expect.objectContaining({
        product_name: 'Lamp',
        unit_price: '7.50',
        total_amount: '15.00',
        user_id: 3,
      }),
    ]);
    const [reject] = (await t.rejects(importId)).items;
    expect(reject).toMatchObject({ rowNumber: 2 });
    expect(reject!.reasons.map((r) => r.message)).toEqual(['unit_price must have at most 2 decimals']);
  });

  it('refuses a file missing a column, or with a column of a type no sale value has, naming the column; nothing is stored', async () => {
    const t = setup();
    const missing = await writeParquet(
      join(t.importDir, 'missing.parquet'),
      `SELECT DATE '2026-01-01' AS date, 1 AS user_id, 'x' AS product_name, 1 AS quantity, 1.0 AS unit_price, 1.0 AS total_amount`,
    );
    const error = await t.run(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidCsvFileError);
    expect((error as Error).message).toMatch(/lacks the column\(s\) region/);
    const typed = await writeParquet(
      join(t.importDir, 'typed.parquet'),
      `SELECT TIMESTAMP '2026-01-01 10:00' AS date, 1 AS user_id, 'x' AS product_name, 1 AS quantity,
              1.0 AS unit_price, 1.0 AS total_amount, ['EU'] AS region`,
    );
    const typeError = (await t.run(typed).catch((e: unknown) => e)) as Error;
    expect(typeError.message).toMatch(/the Parquet column date has the type TIMESTAMP/);
    expect(typeError.message).not.toMatch(INTERNAL);
    const corrupt = t.file(
      'corrupt.parquet',
      Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from('PAR1')]),
    );
    expect(await detectFileFormat(corrupt)).toBe('parquet');
    expect(((await t.run(corrupt).catch((e: unknown) => e)) as Error).message).toBe(
      'the file is not a readable Parquet file',
    );
    expect(await t.stored()).toBe(0);
  });
});

describe('Parquet import, empty', () => {
  it('a Parquet file with the columns and no rows completes with a warning', async () => {
    const t = setup();
    const path = await writeParquet(join(t.importDir, 'empty.parquet'), `${salesSelect(3)} LIMIT 0`);
    const result = await t.run(path);
    expect(result).toMatchObject({ received: 0, accepted: 0, rejected: 0, chunks: 1 });
    expect(result.warnings).toEqual(['the file holds no records: nothing was imported']);
  });
});

describe('NDJSON import', () => {
  it('quarantines lines that are not JSON, not objects or have fields of the wrong JSON type, with their line numbers; blank lines are skipped', async () => {
    const t = setup();
    const lines = [
      line(0), // 1
      '', // 2
      'not json at all', // 3
      '[1, 2]', // 4
      line(4, { unit_price: 10, total_amount: 20, quantity: 2.0 }), // 5: numbers as JSON numbers
      '{"id": "N-5", "date": "2026-01-05", ', // 6: cut short
      line(6, { product_name: 42 }), // 7: a number where text belongs
      line(7, { quantity: '1e3' }), // 8: a string that is not a plain decimal
      '   ', // 9
      line(9, { quantity: 1e3, total_amount: 10500 }), // 10: 1e3 as a JSON number is 1000
      '"a string"', // 11
      line(11, { id: 12 }), // 12
    ];
    const path = t.file('sales.ndjson', `${lines.join('\r\n')}\r\n`);
    expect(await detectFileFormat(path)).toBe('ndjson');
    const importId = randomUUID();
    const result = await t.run(path, { importId });
    expect(result).toMatchObject({ format: 'ndjson', received: 10, accepted: 3, rejected: 7 });
    expect(result.warnings).toContain('2 blank line(s) were skipped');
    expect((await t.sales()).map((s) => s.id)).toEqual(['N-0', 'N-4', 'N-9']);
    const rejects = (await t.rejects(importId)).items;
    expect(rejects.map((r) => [r.rowNumber, r.reasons.map((x) => `${x.path}: ${x.message}`)])).toEqual([
      [3, [': the line is not valid JSON']],
      [4, [': record must be a JSON object']],
      [6, [': the line is not valid JSON']],
      [7, ['product_name: product_name must be a string']],
      [8, ['quantity: quantity must be an integer']],
      [11, [': record must be a JSON object']],
      [12, ['id: id must be a string of 1 to 128 characters']],
    ]);
    expect(JSON.parse(rejects[0]!.raw)).toBe('not json at all');
    expect(JSON.parse(rejects[3]!.raw)).toMatchObject({ id: 'N-6', product_name: 42 });
    expect(rejects.every((r) => r.reasons.every((x) => x.index === r.rowNumber))).toBe(true);
  });

  it('imports in chunks, sets aside a line that is not UTF-8, and a second import stores nothing', async () => {
    const t = setup({ rows: 100, bytes: 32 << 20 });
    const body = Array.from({ length: 250 }, (_, i) => line(i)).join('\n');
    const bad = Buffer.from('{"id": "N-x", "product_name": "caf\xe9"}\n', 'latin1');
    const path = t.file(
      'big.ndjson',
      Buffer.concat([Buffer.from(`${body}\n`), bad, Buffer.from(`${line(999)}`)]),
    );
    const importId = randomUUID();
    expect(await t.run(path, { importId, format: 'ndjson' })).toMatchObject({
      received: 252,
      accepted: 251,
      rejected: 1,
      chunks: 3,
    });
    const [reject] = (await t.rejects(importId)).items;
    expect(reject).toMatchObject({
      rowNumber: 251,
      reasons: [{ path: '', message: 'the line is not valid UTF-8 text' }],
    });
    expect(await t.run(path)).toMatchObject({ duplicateOf: importId, accepted: 0 });
    expect((await t.sales()).length).toBe(251);
  });

  it('interrupted after a chunk, an NDJSON import resumes where it stopped, with exact counts and line numbers', async () => {
    const t = setup({ rows: 4, bytes: 1 << 20 });
    const lines = Array.from({ length: 10 }, (_, i) => (i === 6 ? line(i, { quantity: 0 }) : line(i)));
    const path = t.file('ten.ndjson', `${lines.join('\n')}\n`);
    const importId = randomUUID();
    let commits = 0;
    const crash = t.run(path, {
      importId,
      onProgress: () => {
        if (++commits === 2) throw new Error('worker killed after its second chunk');
      },
    });
    await expect(crash).rejects.toThrow('worker killed');
    expect(await t.sales()).toHaveLength(7);
    const resumed = await t.run(path, { importId });
    expect(resumed).toMatchObject({ received: 10, accepted: 9, rejected: 1, chunks: 3 });
    expect(await t.sales()).toHaveLength(9);
    expect((await t.rejects(importId)).items.map((r) => r.rowNumber)).toEqual([7]);
  });

  it('counts a CR alone as a line end, as editors do, in a file of mixed line ends', async () => {
    const t = setup();
    const path = t.file('mixed.ndjson', `${line(0)}\rnot json\r\n${line(2)}\n{"a":\r1}\n`);
    const importId = randomUUID();
    expect(await t.run(path, { importId })).toMatchObject({ received: 5, accepted: 2, rejected: 3 });
    expect((await t.rejects(importId)).items.map((r) => r.rowNumber)).toEqual([2, 4, 5]);
  });

  it('a CSV is still found as CSV', async () => {
    const t = setup();
    const path = t.file('plain.csv', csvOf([row(1)]));
    expect(await detectFileFormat(path)).toBe('csv');
    expect(await t.run(path)).toMatchObject({ format: 'csv', accepted: 1 });
  });
});
