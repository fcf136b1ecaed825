import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  commitSalesBatches,
  compactRollup,
  deleteSales,
  migrate,
  RollupDriftError,
  rollupDrift,
  salesTotals,
} from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function setup() {
  const dir = tempDir('datasync-db-rollup-');
  const path = join(dir.path, 'rollup.duckdb');
  const db = makeWriter(path, `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, db.close);
  return { ...db, path };
}

/** The rollup's figures summed, and its row count. */
async function rollupTotals(conn: Parameters<typeof rollupDrift>[0]) {
  const row = (
    await conn.runAndReadAll(
      `SELECT coalesce(sum(orders), 0)::BIGINT AS orders, coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR AS revenue,
              count(*)::BIGINT AS stored_rows,
              (SELECT count(*) FROM (SELECT DISTINCT date, region, product_name, source FROM sales_daily))::BIGINT AS keys
       FROM sales_daily`,
    )
  ).getRowObjects()[0]!;
  return {
    orders: Number(row.orders),
    revenue: String(row.revenue),
    rows: Number(row.stored_rows),
    keys: Number(row.keys),
  };
}

describe('the daily rollup', () => {
  it('follows appends, upserts by id and deletes; compaction folds repeated keys and changes no sum', async () => {
    const { writer } = setup();
    // Two batches on the same days and products: keys repeat across commits.
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('plain-1', 40)]));
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('plain-2', 40)]));
    const withIds = (batchId: string, quantity: number) => ({
      ...makeBatch(batchId, 0),
      sales: Array.from({ length: 10 }, (_, k) =>
        makeSale(k, {
          id: `x${k}`,
          quantity,
          unit_price: '2.50',
          total_amount: (quantity * 2.5).toFixed(2),
        }),
      ),
    });
    await writer.transaction((tx) => commitSalesBatches(tx, [withIds('ids-1', 2)]));
    // The same ids again: the stored rows are replaced, and leave the rollup as they go.
    await writer.transaction((tx) => commitSalesBatches(tx, [withIds('ids-2', 4)]));

    const before = await writer.read(async (conn) => ({
      sales: await salesTotals(conn),
      rollup: await rollupTotals(conn),
      drift: await rollupDrift(conn),
    }));
    expect(before.drift).toEqual([]);
    expect(before.sales.rows).toBe(90);
    expect(before.rollup.orders).toBe(90);
    expect(before.rollup.revenue).toBe(before.sales.totalAmount);
    // Rows repeat keys (the plain batches share days, the replaced ids left minus rows).
    expect(before.rollup.rows).toBeGreaterThan(before.rollup.keys);

    await writer.transaction(({ conn }) => compactRollup(conn));
    const compacted = await writer.read(async (conn) => ({
      rollup: await rollupTotals(conn),
      drift: await rollupDrift(conn),
    }));
    expect(compacted.drift).toEqual([]);
    expect(compacted.rollup.rows).toBe(compacted.rollup.keys);
    expect({ orders: compacted.rollup.orders, revenue: compacted.rollup.revenue }).toEqual({
      orders: 90,
      revenue: before.sales.totalAmount,
    });

    // Every sale deleted: the rollup sums to nothing, and compaction leaves no row.
    const deleted = await writer.transaction(({ conn }) => deleteSales(conn, 'true'));
    expect(deleted).toBe(90);
    await writer.transaction(({ conn }) => compactRollup(conn));
    expect(await writer.read((conn) => rollupTotals(conn))).toEqual({
      orders: 0,
      revenue: '0.00',
      rows: 0,
      keys: 0,
    });
  });

  it('takes a day whose revenue is beyond DECIMAL(18,2): appends, replacements, deletes and compaction keep every sum', async () => {
    const { writer } = setup();
    // 25 sales at the largest total a sale may have (quantity 1,000,000 x 999,999,999.99), one key
    // and day: 2.5 x 10^16, more than one DECIMAL(18,2) holds.
    const big = (batchId: string, id: (k: number) => string | null) => ({
      ...makeBatch(batchId, 0),
      sales: Array.from({ length: 25 }, (_, k) =>
        makeSale(0, {
          id: id(k),
          date: '2026-03-01',
          region: 'EU',
          product_name: 'Yacht',
          quantity: 1_000_000,
          unit_price: '999999999.99',
          total_amount: '999999999990000.00',
        }),
      ),
    });
    await writer.transaction((tx) => commitSalesBatches(tx, [big('big-1', () => null)]));
    await writer.transaction((tx) => commitSalesBatches(tx, [big('big-2', (k) => `y${k}`)]));
    // The same ids again: 25 sales of 10^15 taken away and added back in one commit.
    await writer.transaction((tx) => commitSalesBatches(tx, [big('big-3', (k) => `y${k}`)]));
    const check = () =>
      writer.read(async (conn) => ({
        sales: await salesTotals(conn),
        rollup: await rollupTotals(conn),
        drift: await rollupDrift(conn),
      }));
    const stored = await check();
    expect(stored.sales).toMatchObject({ rows: 50, totalAmount: '49999999999500000.00' });
    expect(stored.rollup).toMatchObject({ orders: 50, revenue: '49999999999500000.00', keys: 1 });
    expect(stored.drift).toEqual([]);

    await writer.transaction(({ conn }) => compactRollup(conn));
    const compacted = await check();
    expect(compacted.rollup).toMatchObject({ orders: 50, revenue: '49999999999500000.00', keys: 1 });
    expect(compacted.rollup.rows).toBe(50); // 5 x 10^16 in rows of at most 10^15
    expect(compacted.drift).toEqual([]);

    const deleted = await writer.transaction(({ conn }) => deleteSales(conn, 'external_id IS NULL'));
    expect(deleted).toBe(25);
    const left = await check();
    expect(left.rollup).toMatchObject({ orders: 25, revenue: '24999999999750000.00' });
    expect(left.drift).toEqual([]);
  });

  it('names a key changed around it, and a write transaction that leaves it behind rolls back', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b1', 5)]));
    // In the suite every write transaction checks the rollup before COMMIT (DATASYNC_VERIFY_ROLLUP=1).
    expect(process.env.DATASYNC_VERIFY_ROLLUP).toBe('1');
    await expect(
      writer.transaction(({ conn }) => conn.run(`UPDATE sales SET total_amount = total_amount + 1`)),
    ).rejects.toBeInstanceOf(RollupDriftError);
    const after = await writer.read(async (conn) => ({
      sales: await salesTotals(conn),
      drift: await rollupDrift(conn),
    }));
    expect(after.drift).toEqual([]);
    // A change around the writer (as another tool would make it) is found and named.
    await writer.read((conn) => conn.run(`UPDATE sales SET quantity = quantity + 1 WHERE rowid = 0`));
    const drift = await writer.read((conn) => rollupDrift(conn));
    expect(drift).toHaveLength(1);
    expect(drift[0]!.key).toMatch(/^\d{4}-\d{2}-\d{2} \/ .+ \/ .+ \/ test$/);
    expect(drift[0]!.sales).not.toBe(drift[0]!.rollup);
    expect(after.sales.rows).toBe(5);
  });

  it('is built from the stored sales by its migration', async () => {
    const dir = tempDir('datasync-db-rollup-migration-');
    cleanups.push(dir.cleanup);
    const db = await DuckDBInstance.create(join(dir.path, 'old.duckdb'));
    const conn = await db.connect();
    try {
      await migrate(conn);
      // A database from before the rollup: sales, no rollup.
      await conn.run('DROP TABLE sales_daily; DROP TABLE sales_daily_compacted');
      await conn.run('DELETE FROM schema_migrations WHERE version = 10');
      await conn.run(`INSERT INTO sales
        SELECT 'old', NULL, DATE '2026-01-01' + (i % 7)::INTEGER, 1, 'P' || (i % 3), 2, 1.25, 2.50, 'EU', 'b', now()
        FROM range(1000) t(i)`);
      expect(await migrate(conn)).toEqual([10]);
      expect(await rollupDrift(conn)).toEqual([]);
      expect(await rollupTotals(conn)).toEqual({ orders: 1000, revenue: '2500.00', rows: 21, keys: 21 });
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});
