import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { commitSalesBatches, listRejects, salesSummary } from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir('datasync-db-reports-');
  const w = makeWriter(join(dir.path, 'test.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  return w;
}

const sale = (date: string, region: string, product: string, quantity: number, unit: string, total: string) =>
  makeSale(0, { date, region, product_name: product, quantity, unit_price: unit, total_amount: total });

describe('sales summary', () => {
  it('totals count, units and revenue as exact decimals by day, region or product within from..to', async () => {
    const { writer } = setup();
    await writer.transaction((tx) =>
      commitSalesBatches(tx, [
        {
          ...makeBatch('b1', 0),
          sales: [
            sale('2026-01-10', 'EU', 'Pen', 3, '0.10', '0.30'),
            sale('2026-01-10', 'EU', 'Pen', 7, '0.10', '0.70'),
            sale('2026-01-11', 'NA', 'Desk', 1, '9999999999.99', '9999999999.99'),
            sale('2026-01-12', 'EU', 'Desk', 2, '0.01', '0.02'),
          ],
        },
      ]),
    );
    const byDay = await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }));
    expect(byDay.rows).toEqual([
      { key: '2026-01-10', count: 2, quantity: 10, revenue: '1.00' },
      { key: '2026-01-11', count: 1, quantity: 1, revenue: '9999999999.99' },
      { key: '2026-01-12', count: 1, quantity: 2, revenue: '0.02' },
    ]);
    expect(byDay.totals).toEqual({ count: 4, quantity: 13, revenue: '10000000001.01' });

    const byRegion = await writer.read((conn) =>
      salesSummary(conn, { groupBy: 'region', from: '2026-01-11', to: '2026-01-12' }),
    );
    expect(byRegion).toMatchObject({
      from: '2026-01-11',
      to: '2026-01-12',
      truncated: false,
      rows: [
        { key: 'EU', count: 1, quantity: 2, revenue: '0.02' },
        { key: 'NA', count: 1, quantity: 1, revenue: '9999999999.99' },
      ],
    });
    const byProduct = await writer.read((conn) =>
      salesSummary(conn, { groupBy: 'product', to: '2026-01-10' }),
    );
    expect(byProduct.rows).toEqual([{ key: 'Pen', count: 2, quantity: 10, revenue: '1.00' }]);
    const none = await writer.read((conn) => salesSummary(conn, { groupBy: 'day', from: '2027-01-01' }));
    expect(none).toMatchObject({ rows: [], totals: { count: 0, quantity: 0, revenue: '0.00' } });
  });

  it('answers while a write transaction is open: a report never waits for ingest', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b1', 3)]));
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inTransaction!: () => void;
    const started = new Promise<void>((resolve) => {
      inTransaction = resolve;
    });
    const write = writer.transaction(async (tx) => {
      await commitSalesBatches(tx, [makeBatch('b2', 5)]);
      inTransaction();
      await held;
    });
    await started;
    const during = await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }));
    expect(during.totals.count).toBe(3); // the open transaction's rows are not visible yet
    release();
    await write;
    expect((await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }))).totals.count).toBe(8);
  });
});

describe('rejects listing', () => {
  it('lists quarantined records oldest first, filtered by batch, CSV import or source, paged', async () => {
    const { writer } = setup();
    const reject = (index: number) => ({
      index,
      raw: JSON.stringify({ n: index }),
      reasons: [{ index, path: 'quantity', message: 'quantity is required' }],
    });
    await writer.transaction((tx) =>
      commitSalesBatches(tx, [
        { ...makeBatch('batch-a', 1), source: 'shop', rejects: [reject(0), reject(2)] },
        { ...makeBatch('batch-b', 1), source: 'erp', rejects: [reject(5)] },
      ]),
    );
    await writer.transaction((tx) =>
      tx.conn.run(`INSERT INTO rejects VALUES ('csv', 'import-1', 'csv', 4, '{"date":"x"}', '[]', now())`),
    );
    const all = await writer.read((conn) => listRejects(conn, { limit: 2, offset: 0 }));
    expect(all.total).toBe(4);
    expect(all.items).toHaveLength(2);
    expect(all.items[0]).toEqual({
      source: 'shop',
      batchId: 'batch-a',
      kind: 'sale',
      rowNumber: 0,
      raw: '{"n":0}',
      reasons: [{ index: 0, path: 'quantity', message: 'quantity is required' }],
      rejectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const page2 = await writer.read((conn) => listRejects(conn, { limit: 2, offset: 2 }));
    expect(page2.items.map((r) => r.batchId).sort()).toEqual(['batch-b', 'import-1']);
    const byBatch = await writer.read((conn) =>
      listRejects(conn, { batchId: 'batch-a', limit: 10, offset: 0 }),
    );
    expect(byBatch.items.map((r) => r.rowNumber)).toEqual([0, 2]);
    const bySource = await writer.read((conn) => listRejects(conn, { source: 'erp', limit: 10, offset: 0 }));
    expect(bySource).toMatchObject({ total: 1, items: [{ rowNumber: 5 }] });
    const byImport = await writer.read((conn) =>
      listRejects(conn, { importId: 'import-1', limit: 10, offset: 0 }),
    );
    expect(byImport).toMatchObject({ total: 1, items: [{ kind: 'csv', rowNumber: 4, raw: '{"date":"x"}' }] });
    // The dashboard's search: reason text in any case, and newest first.
    const byReason = await writer.read((conn) =>
      listRejects(conn, { reason: 'QUANTITY IS', limit: 10, offset: 0 }),
    );
    expect(byReason.items.map((r) => r.rowNumber)).toEqual([0, 2, 5]);
    const newest = await writer.read((conn) => listRejects(conn, { newest: true, limit: 1, offset: 0 }));
    expect(newest).toMatchObject({ total: 4, items: [{ batchId: 'import-1' }] });
  });
});
