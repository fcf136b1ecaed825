import type { Migration } from '../migrations.js';
import { ROLLUP_FROM_SALES_SQL } from '../sales-rollup.js';

// The daily rollup the dashboard and the sales summary read (sales-rollup.ts), built once from the
// stored sales in date order (a date filter skips row groups); from then on every write of sales
// appends to it in the same transaction. No key constraint: figures are appended and summed.
// Revenue is DECIMAL(18,2) like a sale's total (a key's day above 10^15 takes several rows, see
// ROW_REVENUE_LIMIT): summing a stored DECIMAL(38,2) column read 40 ms per 180k rows here,
// DECIMAL(18,2) 1 ms.
export const migration: Migration = {
  version: 10,
  name: 'sales-daily-rollup',
  sql: `
      CREATE TABLE sales_daily (
        date DATE NOT NULL,
        region VARCHAR NOT NULL,
        product_name VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        orders BIGINT NOT NULL,
        units BIGINT NOT NULL,
        revenue DECIMAL(18,2) NOT NULL,
        last_ingested_at TIMESTAMPTZ NOT NULL
      );
      INSERT INTO sales_daily ${ROLLUP_FROM_SALES_SQL};
      CREATE TABLE sales_daily_compacted (rows BIGINT NOT NULL);
      INSERT INTO sales_daily_compacted SELECT count(*) FROM sales_daily;
    `,
};
