import { randomUUID } from 'node:crypto';
import { latestSaleDate, validateSaleRecord } from '@datasync/schemas';
import { describe, expect, it } from 'vitest';
import { setupCsvImport as setup } from './csv-test-helpers.js';

/**
 * An NDJSON line and the same record sent to the JSON batch path get the same verdict and the
 * same reasons: the NDJSON import reads values as the JSON path does (numbers as numbers).
 */
const base = {
  date: '2026-01-05',
  user_id: 7,
  product_name: 'Lamp',
  quantity: 2,
  unit_price: 10.5,
  total_amount: 21,
  region: 'EU',
};
const CASES: Record<string, unknown>[] = [
  {},
  { quantity: 2.0 },
  { quantity: 2.5 },
  { quantity: '2.0', total_amount: '21.00' },
  { quantity: '1e3' },
  { quantity: 1e3, unit_price: 1, total_amount: 1000 },
  { quantity: -1 },
  { quantity: -2.0 },
  { quantity: 0 },
  { quantity: 1e7 },
  { quantity: 1e21 },
  { quantity: { a: 1 } },
  { quantity: [1] },
  { quantity: true },
  { quantity: null },
  { user_id: true },
  { user_id: 1.5e1 },
  { user_id: 0.5 },
  { user_id: -3 },
  { user_id: '  12 ' },
  { unit_price: 0.30000000000000004, total_amount: 0.6 },
  { unit_price: -5 },
  { unit_price: 1e21 },
  { unit_price: 1e-7 },
  { unit_price: '1e2' },
  { unit_price: 10.499, total_amount: 20.998 },
  { total_amount: 0 },
  { total_amount: 21.5 },
  { total_amount: undefined },
  { product_name: 42 },
  { product_name: '  padded  ' },
  { product_name: '\u0001x' },
  { product_name: '' },
  { product_name: ['a'] },
  { region: null },
  { region: false },
  { date: 20260105 },
  { date: '2026-02-30' },
  { date: ' 2026-01-05 ' },
  { date: '2999-01-01' },
  { id: 12 },
  { id: '' },
  { id: 'x'.repeat(129) },
  { id: null },
];

describe('NDJSON and the JSON path', () => {
  it('accept and reject the same records with the same reasons', async () => {
    const t = setup();
    const records = CASES.map((c) => ({ ...base, ...c }));
    const path = t.file('parity.ndjson', `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const importId = randomUUID();
    await t.run(path, { importId });
    const rejects = new Map((await t.rejects(importId)).items.map((r) => [r.rowNumber, r.reasons]));
    const latest = latestSaleDate();
    const seen = records.map((r, i) => ({
      record: JSON.stringify(r),
      reasons: (rejects.get(i + 1) ?? []).map((x) => `${x.path}: ${x.message}`),
    }));
    const expected = records.map((r) => ({
      record: JSON.stringify(r),
      reasons: (validateSaleRecord(JSON.parse(JSON.stringify(r)), latest).errors ?? []).map(
        (x) => `${x.path}: ${x.message}`,
      ),
    }));
    expect(seen).toEqual(expected);
  });
});
