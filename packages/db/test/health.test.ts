import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  commitSalesBatches,
  lastCommittedAt,
  salesMissingValues,
  salesRuleViolations,
  tableRowCounts,
} from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function setup() {
  const dir = tempDir('datasync-db-health-');
  const db = makeWriter(join(dir.path, 'health.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, db.close);
  return db;
}

describe('health check SQL', () => {
  it('counts rows per table and finds no problem in data that passed validation', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b1', 25)]));
    const report = await writer.read(async (conn) => ({
      counts: await tableRowCounts(conn),
      missing: await salesMissingValues(conn),
      rules: await salesRuleViolations(conn),
      last: await lastCommittedAt(conn),
    }));
    expect(report.counts.sales).toBe(25);
    expect(report.counts.ingest_batches).toBe(1);
    expect(Object.values(report.missing).every((n) => n === 0)).toBe(true);
    expect(report.rules).toEqual({
      totalMismatch: 0,
      badQuantity: 0,
      negativePrice: 0,
      nonPositiveTotal: 0,
      futureDate: 0,
    });
    expect(Date.now() - Date.parse(report.last!)).toBeLessThan(60_000);
  });

  it('reports business-rule violations and blank required values written around the validation', async () => {
    const { writer } = setup();
    const batch = makeBatch('b2', 10);
    batch.sales[0] = makeSale(0, { total_amount: '999.99' });
    batch.sales[1] = makeSale(1, { date: '2999-01-01' });
    batch.sales[2] = makeSale(2, { region: '   ' });
    await writer.transaction((tx) => commitSalesBatches(tx, [batch]));
    await writer.transaction(async ({ conn }) => {
      // The rollup follows the change, as every write of sales does (or the commit fails).
      await conn.run(`INSERT INTO sales_daily
        SELECT date, region, product_name, source, 0, -sum(quantity), -sum(total_amount), now()
        FROM sales WHERE product_name = 'Product 3' GROUP BY ALL`);
      await conn.run(`UPDATE sales SET quantity = 0, total_amount = 0 WHERE product_name = 'Product 3'`);
    });
    const { missing, rules } = await writer.read(async (conn) => ({
      missing: await salesMissingValues(conn),
      rules: await salesRuleViolations(conn),
    }));
    expect(missing.region).toBe(1);
    expect(rules.totalMismatch).toBe(1);
    expect(rules.futureDate).toBe(1);
    expect(rules.badQuantity).toBe(1);
    expect(rules.nonPositiveTotal).toBe(1);
  });

  it('answers on an empty database: no commit yet', async () => {
    const { writer } = setup();
    expect(await writer.read((conn) => lastCommittedAt(conn))).toBeNull();
  });
});
