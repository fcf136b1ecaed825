import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';

/**
 * The daily rollup (`sales_daily`): orders, units and revenue per day, region, product and source,
 * with the last commit that added to it. The dashboard's analytics and the sales summary read it
 * instead of scanning every sale (at 10M rows a scan took 255-560 ms per query; the rollup has a
 * row per day and key, a few hundred thousand in the benchmark).
 *
 * It is kept in the same transaction as the sales it sums, by every statement that writes sales:
 * rows added are added to it (`addToRollup`), rows deleted are taken away first (`deleteSales`).
 * So it can never disagree with them; `rollupDrift` compares the two (the health check runs it, and
 * with DATASYNC_VERIFY_ROLLUP=1, as in the test suite, every write transaction does before COMMIT).
 *
 * Figures are appended, never updated in place: a commit adds one row per key it touched (minus
 * for rows deleted), so a commit costs one small INSERT and no join, no index (RELIABILITY.md: no
 * ART-backed constraint, no ON CONFLICT). Readers sum the rows of a key, which they do anyway to
 * group by region or week. When the table has grown by `COMPACT_AFTER_ROWS` since it was last
 * compacted, the commit that crossed the mark also folds the dates holding repeated keys into one
 * row per key (`compactRollup`); keys summing to nothing go away. Compaction changes no sum.
 */

type Params = Record<string, DuckDBValue> | DuckDBValue[];

const KEY = 'date, region, product_name, source';

/**
 * The most revenue one rollup row carries. Revenue is DECIMAL(18,2) (below 10^16), like a sale's
 * total; a key's day may sum to more (a sale's total is below 10^15, but many add up), so a figure
 * above this is stored as several rows of the key, orders and units on the first: readers sum a
 * key's rows anyway, and no commit fails because a day was big.
 */
export const ROW_REVENUE_LIMIT = '1000000000000000.00';

/**
 * Grouped figures as rollup rows: `groupedSql` selects date, region, product_name, source,
 * orders, units, revenue (any exact type) and last_ingested_at, by those names; a revenue above
 * ROW_REVENUE_LIMIT either way is split over several rows (see there). Sums are unchanged.
 */
export function rollupRowsOf(groupedSql: string): string {
  const limit = `${ROW_REVENUE_LIMIT}::DECIMAL(38,2)`;
  return `SELECT ${KEY},
            CASE WHEN part = 0 THEN orders ELSE 0 END::BIGINT,
            CASE WHEN part = 0 THEN units ELSE 0 END::BIGINT,
            CASE WHEN part < parts - 1 THEN sign(revenue) * ${limit}
                 ELSE revenue - sign(revenue) * ${limit} * (parts - 1) END::DECIMAL(18,2),
            last_ingested_at
   FROM (SELECT *, unnest(range(parts)) AS part
         FROM (SELECT * EXCLUDE (revenue), revenue::DECIMAL(38,2) AS revenue,
                      greatest(1, ceil(abs(revenue::DECIMAL(38,2)) / ${limit}))::BIGINT AS parts
               FROM (${groupedSql})))`;
}

/** The figures of some sales rows (columns as in `sales`), grouped by the rollup's key. */
const figuresOf = (rowsSql: string, sign: '' | '-') =>
  rollupRowsOf(`SELECT ${KEY}, ${sign}count(*) AS orders, ${sign}sum(quantity) AS units,
          ${sign}sum(total_amount)::DECIMAL(38,2) AS revenue, max(ingested_at) AS last_ingested_at
   FROM (${rowsSql}) GROUP BY ${KEY}`);

/** Rows appended since the last compaction before the next one runs. */
export const COMPACT_AFTER_ROWS = 100_000;

/** Adds the rows `rowsSql` selects (sales columns: the rows just inserted) to the rollup. */
export async function addToRollup(conn: DuckDBConnection, rowsSql: string, params?: Params): Promise<void> {
  await appendFigures(conn, figuresOf(rowsSql, ''), params);
}

/**
 * Appends rollup rows (`rollupRowsOf` of grouped figures) to the rollup, then compacts it when it
 * has grown enough.
 */
export async function appendFigures(
  conn: DuckDBConnection,
  groupedSql: string,
  params?: Params,
): Promise<void> {
  await conn.run(`INSERT INTO sales_daily ${groupedSql}`, params);
  const state = (
    await conn.runAndReadAll(
      'SELECT (SELECT count(*) FROM sales_daily)::BIGINT AS n, (SELECT rows FROM sales_daily_compacted)::BIGINT AS c',
    )
  ).getRowObjects()[0]!;
  if (Number(state.n) >= Number(state.c ?? 0) + COMPACT_AFTER_ROWS) await compactRollup(conn);
}

/**
 * Deletes the sales `where` selects, taking them away from the rollup first. Every delete of sales
 * goes through here. The condition is evaluated once (it may join millions of rows): the rows it
 * selects are kept by rowid, their figures taken away, then those rowids deleted. Returns how many
 * rows were deleted.
 */
export async function deleteSales(conn: DuckDBConnection, where: string, params?: Params): Promise<number> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE sales_deleted AS
     SELECT rowid AS rid, ${KEY}, quantity, total_amount, ingested_at FROM sales WHERE ${where}`,
    params,
  );
  const found = await conn.runAndReadAll('SELECT count(*)::BIGINT AS n FROM temp.sales_deleted');
  let deleted = 0;
  if (Number(found.getRowObjects()[0]!.n) > 0) {
    await appendFigures(conn, figuresOf('SELECT * FROM temp.sales_deleted', '-'));
    deleted = (await conn.run('DELETE FROM sales WHERE rowid IN (SELECT rid FROM temp.sales_deleted)'))
      .rowsChanged;
  }
  await conn.run('DROP TABLE temp.sales_deleted');
  return deleted;
}

/**
 * One row per key on every date that holds a key more than once, in the caller's transaction.
 * Sums are unchanged; keys whose figures sum to nothing go.
 */
export async function compactRollup(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE rollup_dates AS
     SELECT DISTINCT date FROM (SELECT date FROM sales_daily GROUP BY ${KEY} HAVING count(*) > 1)`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE rollup_folded AS
     ${rollupRowsOf(`SELECT ${KEY}, sum(orders) AS orders, sum(units) AS units, sum(revenue) AS revenue,
                            max(last_ingested_at) AS last_ingested_at
                     FROM sales_daily WHERE date IN (SELECT date FROM temp.rollup_dates) GROUP BY ${KEY}
                     HAVING sum(orders) <> 0 OR sum(units) <> 0 OR sum(revenue) <> 0`)}
     ORDER BY date`,
  );
  await conn.run('DELETE FROM sales_daily WHERE date IN (SELECT date FROM temp.rollup_dates)');
  await conn.run('INSERT INTO sales_daily SELECT * FROM temp.rollup_folded');
  await conn.run('UPDATE sales_daily_compacted SET rows = (SELECT count(*) FROM sales_daily)');
  await conn.run('DROP TABLE temp.rollup_dates');
  await conn.run('DROP TABLE temp.rollup_folded');
}

/** The rollup built from the sales table, for the migration that creates it and for checks. */
export const ROLLUP_FROM_SALES_SQL = `${figuresOf('SELECT * FROM sales', '')} ORDER BY date`;

/**
 * The rollup rebuilt from the sales, in the caller's transaction: for a file whose sales were
 * written around datasync (a benchmark's prefill; docs/operations.md gives the same SQL).
 */
export async function rebuildRollup(conn: DuckDBConnection): Promise<void> {
  await conn.run('DELETE FROM sales_daily');
  await conn.run(`INSERT INTO sales_daily ${ROLLUP_FROM_SALES_SQL}`);
  await conn.run('UPDATE sales_daily_compacted SET rows = (SELECT count(*) FROM sales_daily)');
}

/**
 * Keys where the rollup and the sales disagree, at most `limit` of them: empty when they agree.
 * A full scan of sales: for checks, not for every request.
 */
export async function rollupDrift(
  conn: DuckDBConnection,
  limit = 5,
): Promise<Array<{ key: string; sales: string; rollup: string }>> {
  const reader = await conn.runAndReadAll(
    `WITH s AS (
       SELECT date, region, product_name, source, count(*)::BIGINT AS orders, sum(quantity)::BIGINT AS units,
              sum(total_amount)::DECIMAL(38,2) AS revenue
       FROM sales GROUP BY ALL
     ), r AS (
       SELECT date, region, product_name, source, sum(orders)::BIGINT AS orders, sum(units)::BIGINT AS units,
              sum(revenue)::DECIMAL(38,2) AS revenue
       FROM sales_daily GROUP BY ALL HAVING sum(orders) <> 0 OR sum(units) <> 0 OR sum(revenue) <> 0
     )
     SELECT concat_ws(' / ', coalesce(s.date, r.date)::VARCHAR, coalesce(s.region, r.region),
                      coalesce(s.product_name, r.product_name), coalesce(s.source, r.source)) AS key,
            coalesce(s.orders, 0) || ' orders, ' || coalesce(s.units, 0) || ' units, ' || coalesce(s.revenue, 0) AS sales,
            coalesce(r.orders, 0) || ' orders, ' || coalesce(r.units, 0) || ' units, ' || coalesce(r.revenue, 0) AS rollup
     FROM s FULL JOIN r USING (date, region, product_name, source)
     WHERE s.orders IS DISTINCT FROM r.orders OR s.units IS DISTINCT FROM r.units OR s.revenue IS DISTINCT FROM r.revenue
     ORDER BY key LIMIT ${limit}`,
  );
  return reader.getRowObjects().map((row) => ({
    key: String(row.key),
    sales: String(row.sales),
    rollup: String(row.rollup),
  }));
}

/** Thrown before COMMIT under DATASYNC_VERIFY_ROLLUP=1 when a write left the rollup behind. */
export class RollupDriftError extends Error {
  override name = 'RollupDriftError';
}

export async function verifyRollup(conn: DuckDBConnection): Promise<void> {
  const drift = await rollupDrift(conn);
  if (drift.length > 0) {
    throw new RollupDriftError(
      `sales_daily disagrees with sales: ${drift.map((d) => `${d.key}: sales ${d.sales}, rollup ${d.rollup}`).join('; ')}`,
    );
  }
}
