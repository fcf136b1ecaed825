import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SalesAnalyticsQuery } from '@datasync/schemas';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { averageOrder, commitSalesBatches, salesAnalytics, salesSummary } from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sale = (date: string, region: string, product: string, quantity: number, total: string) =>
  makeSale(0, { date, region, product_name: product, quantity, unit_price: total, total_amount: total });

/** Two sources; January and the December before it; a week that crosses the month. */
async function setup() {
  const dir = tempDir('datasync-db-analytics-');
  const w = makeWriter(join(dir.path, 'test.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  await w.writer.transaction((tx) =>
    commitSalesBatches(tx, [
      {
        ...makeBatch('shop', 0),
        source: 'shop',
        sales: [
          sale('2025-12-29', 'EU', 'Pen', 1, '0.10'), // Monday of ISO week 2026-W01
          sale('2026-01-01', 'EU', 'Pen', 3, '0.30'),
          sale('2026-01-05', 'NA', 'Desk', 1, '250.00'),
          sale('2026-01-31', 'EU', 'Lamp', 2, '40.01'),
        ],
      },
      {
        ...makeBatch('erp', 0),
        source: 'erp',
        sales: [sale('2026-01-05', 'EU', 'Desk', 1, '250.00'), sale('2026-02-02', 'APAC', 'Pen', 5, '0.50')],
      },
    ]),
  );
  return w.writer;
}

const query = (q: Record<string, unknown>) => SalesAnalyticsQuery.parse(q);

describe('sales analytics (the dashboard)', () => {
  it('KPIs over the period against the period of the same length before, equal to the summary API', async () => {
    const writer = await setup();
    const jan = await writer.read((c) => salesAnalytics(c, query({ from: '2026-01-01', to: '2026-01-31' })));
    expect(jan.current).toEqual({ revenue: '540.31', orders: 4, units: 7, averageOrder: '135.08' });
    expect(jan.previous).toEqual({
      from: '2025-12-01',
      to: '2025-12-31',
      revenue: '0.10',
      orders: 1,
      units: 1,
      averageOrder: '0.10',
    });
    const summary = await writer.read((c) =>
      salesSummary(c, { groupBy: 'region', from: '2026-01-01', to: '2026-01-31' }),
    );
    expect(summary.totals).toEqual({ count: 4, quantity: 7, revenue: '540.31' });
    expect(jan.byRegion).toEqual([
      { key: 'EU', revenue: '290.31', orders: 3, units: 6 },
      { key: 'NA', revenue: '250.00', orders: 1, units: 1 },
    ]);
    expect(jan.topProducts.map((p) => [p.key, p.revenue])).toEqual([
      ['Desk', '500.00'],
      ['Lamp', '40.01'],
      ['Pen', '0.30'],
    ]);
    expect(jan.freshness.map((f) => f.source)).toEqual(['erp', 'shop']);
    expect(Date.parse(jan.freshness[0]!.lastCommit)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('buckets by day, ISO week and month with the empty ones; filters apply to every figure', async () => {
    const writer = await setup();
    const weeks = await writer.read((c) =>
      salesAnalytics(c, query({ from: '2026-01-01', to: '2026-01-20', bucket: 'week' })),
    );
    // The week of Jan 1 starts Monday Dec 29, but only sales from..to count.
    expect(weeks.series).toEqual([
      { key: '2025-12-29', revenue: '0.30', orders: 1, units: 3 },
      { key: '2026-01-05', revenue: '500.00', orders: 2, units: 2 },
      { key: '2026-01-12', revenue: '0.00', orders: 0, units: 0 },
      { key: '2026-01-19', revenue: '0.00', orders: 0, units: 0 },
    ]);
    const months = await writer.read((c) =>
      salesAnalytics(c, query({ from: '2025-12-15', to: '2026-02-10', bucket: 'month', region: 'EU' })),
    );
    expect(months.series.map((s) => [s.key, s.revenue])).toEqual([
      ['2025-12-01', '0.10'],
      ['2026-01-01', '290.31'],
      ['2026-02-01', '0.00'],
    ]);
    expect(months.byRegion.map((r) => r.key)).toEqual(['EU']);
    const erp = await writer.read((c) =>
      salesAnalytics(c, query({ from: '2026-01-01', to: '2026-01-02', bucket: 'day', source: 'erp' })),
    );
    expect(erp.series).toEqual([
      { key: '2026-01-01', revenue: '0.00', orders: 0, units: 0 },
      { key: '2026-01-02', revenue: '0.00', orders: 0, units: 0 },
    ]);
    expect(erp.current).toEqual({ revenue: '0.00', orders: 0, units: 0, averageOrder: '0.00' });
    expect(erp.freshness).toEqual([]);
    const pens = await writer.read((c) =>
      salesAnalytics(c, query({ from: '2025-01-01', to: '2026-12-31', product: 'Pen', top: 1 })),
    );
    expect(pens.current).toMatchObject({ revenue: '0.90', orders: 3, units: 9 });
    expect(pens.topProducts).toEqual([{ key: 'Pen', revenue: '0.90', orders: 3, units: 9 }]);
  });

  it('refuses a reversed or unbounded period and unknown buckets, naming the field', () => {
    const issues = (q: Record<string, unknown>) =>
      SalesAnalyticsQuery.safeParse(q).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ from: '2026-02-01', to: '2026-01-01' })).toEqual(['from: from must not be after to']);
    expect(issues({ from: '2000-01-01', to: '2026-01-01' })).toEqual([
      'to: the period may span at most ten years',
    ]);
    expect(issues({ from: '2026-01-01', to: '2026-01-02', bucket: 'year' })?.[0]).toMatch(/^bucket: /);
    expect(issues({ to: '2026-01-02' })?.[0]).toMatch(/^from: /);
  });

  it('average order: exact, half up, for any revenue', () => {
    expect(averageOrder('540.31', 4)).toBe('135.08');
    expect(averageOrder('0.05', 2)).toBe('0.03');
    expect(averageOrder('10000000001.01', 3)).toBe('3333333333.67');
    expect(averageOrder('0.00', 0)).toBe('0.00');
  });
});
