import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SalesRowsQuery } from '@datasync/schemas';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { commitSalesBatches, commitUpstreamWindow, findSalesBatch, listSales } from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const dir = tempDir('datasync-db-rows-');
  const w = makeWriter(join(dir.path, 'test.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  return w.writer;
}

describe('drill-down reads', () => {
  it('lists the rows behind a filter, newest date first, paged, with their batch', async () => {
    const writer = await setup();
    const batch = { ...makeBatch('shop', 0), batchId: 'b-1', source: 'shop' };
    await writer.transaction((tx) =>
      commitSalesBatches(tx, [
        {
          ...batch,
          sales: [
            makeSale(1, { date: '2026-01-02', region: 'EU', total_amount: '10.05', unit_price: '10.05' }),
            makeSale(2, { date: '2026-01-03', region: 'EU', total_amount: '0.10', unit_price: '0.10' }),
            makeSale(3, { date: '2026-01-03', region: 'NA' }),
          ],
          received: 3,
        },
      ]),
    );
    const page = await writer.read((c) =>
      listSales(c, SalesRowsQuery.parse({ region: 'EU', from: '2026-01-01', to: '2026-01-31' })),
    );
    expect(page.total).toBe(2);
    expect(page.items.map((r) => [r.date, r.totalAmount, r.batchId, r.source])).toEqual([
      ['2026-01-03', '0.10', 'b-1', 'shop'],
      ['2026-01-02', '10.05', 'b-1', 'shop'],
    ]);
    expect(page.items[0]!.ingestedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const second = await writer.read((c) => listSales(c, SalesRowsQuery.parse({ limit: 2, offset: 2 })));
    expect(second).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect(second.items).toHaveLength(1);
    expect((await writer.read((c) => listSales(c, SalesRowsQuery.parse({ batchId: 'other' })))).total).toBe(
      0,
    );
  });

  it('tells where a batch came from: a POSTed batch, an upstream pull with its window, or nothing', async () => {
    const writer = await setup();
    await writer.transaction((tx) =>
      commitSalesBatches(tx, [
        { ...makeBatch('shop', 0), batchId: 'b-2', source: 'shop', sales: [makeSale(1)], received: 2 },
      ]),
    );
    await writer.transaction((tx) =>
      commitUpstreamWindow(tx, {
        runId: 'run-7',
        source: 'upstream',
        window: { from: '2026-01-01', to: '2026-01-31' },
        pages: 1,
        received: 1,
        sales: [makeSale(4, { date: '2026-01-05' })],
        rejects: [],
        describe: () => ({}),
      }),
    );
    expect(await writer.read((c) => findSalesBatch(c, 'b-2'))).toMatchObject({
      kind: 'api-batch',
      source: 'shop',
      received: 2,
      stored: 1,
      file: null,
      window: null,
    });
    expect(await writer.read((c) => findSalesBatch(c, 'run-7'))).toMatchObject({
      kind: 'upstream',
      source: 'upstream',
      stored: 1,
      window: { from: '2026-01-01', to: '2026-01-31' },
    });
    expect(await writer.read((c) => findSalesBatch(c, 'nope'))).toBeNull();
  });
});
