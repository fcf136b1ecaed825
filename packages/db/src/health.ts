import { SALE_CSV_REQUIRED_COLUMNS } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * SQL of the health check, run on a read connection (`DatabaseWriter.read`). Each query is a
 * single scan of the sales table, so an hourly check stays cheap on a large table.
 */

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The database answers at all: the health check times this trivial query. */
export async function pingDatabase(conn: DuckDBConnection): Promise<void> {
  await conn.run('SELECT 1');
}

/** Row count of every table of the main schema. */
export async function tableRowCounts(conn: DuckDBConnection): Promise<Record<string, number>> {
  const tables = await conn.runAndReadAll(
    `SELECT table_name FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
     ORDER BY table_name`,
  );
  const counts: Record<string, number> = {};
  for (const row of tables.getRowObjects()) {
    const name = String(row.table_name);
    const reader = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${quoteIdentifier(name)}`);
    counts[name] = Number(reader.getRowObjects()[0]?.n ?? 0);
  }
  return counts;
}

/** The sales columns a record must have (CONTRACT.md "Records"; `id` is optional). */
export const SALES_REQUIRED_COLUMNS = [
  'source',
  ...SALE_CSV_REQUIRED_COLUMNS,
  'batch_id',
  'ingested_at',
] as const;

/**
 * Rows with a null (or, for text, blank) value per required sales column. The table declares
 * them NOT NULL, so anything here means the file was written by something else (or restored from
 * such a file).
 */
export async function salesMissingValues(conn: DuckDBConnection): Promise<Record<string, number>> {
  const text = new Set(['source', 'product_name', 'region', 'batch_id']);
  const parts = SALES_REQUIRED_COLUMNS.map((c) => {
    const blank = text.has(c) ? ` OR trim(${c}) = ''` : '';
    return `count(*) FILTER (WHERE ${c} IS NULL${blank})::BIGINT AS ${c}`;
  });
  const reader = await conn.runAndReadAll(`SELECT ${parts.join(', ')} FROM sales`);
  const row = reader.getRowObjects()[0] ?? {};
  return Object.fromEntries(SALES_REQUIRED_COLUMNS.map((c) => [c, Number(row[c] ?? 0)]));
}

export interface SalesRuleViolations {
  /** total_amount not within 0.01 of quantity x unit_price */
  totalMismatch: number;
  /** quantity outside 1..1,000,000 */
  badQuantity: number;
  /** unit_price below 0 */
  negativePrice: number;
  /** total_amount not above 0 */
  nonPositiveTotal: number;
  /** date after tomorrow (UTC) */
  futureDate: number;
}

/** Business-rule violations in the stored sales (the rule set of CONTRACT.md "Records"). */
export async function salesRuleViolations(conn: DuckDBConnection): Promise<SalesRuleViolations> {
  const reader = await conn.runAndReadAll(`
    SELECT
      count(*) FILTER (WHERE abs(total_amount - quantity * unit_price) > 0.01)::BIGINT AS total_mismatch,
      count(*) FILTER (WHERE quantity < 1 OR quantity > 1000000)::BIGINT AS bad_quantity,
      count(*) FILTER (WHERE unit_price < 0)::BIGINT AS negative_price,
      count(*) FILTER (WHERE total_amount <= 0)::BIGINT AS non_positive_total,
      count(*) FILTER (WHERE date > (now() AT TIME ZONE 'UTC')::DATE + 1)::BIGINT AS future_date
    FROM sales`);
  const row = reader.getRowObjects()[0] ?? {};
  return {
    totalMismatch: Number(row.total_mismatch ?? 0),
    badQuantity: Number(row.bad_quantity ?? 0),
    negativePrice: Number(row.negative_price ?? 0),
    nonPositiveTotal: Number(row.non_positive_total ?? 0),
    futureDate: Number(row.future_date ?? 0),
  };
}

/** When the newest batch of any kind was committed (ISO), or null with none. */
export async function lastCommittedAt(conn: DuckDBConnection): Promise<string | null> {
  const reader = await conn.runAndReadAll(
    `SELECT strftime(max(committed_at) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS at FROM ingest_batches`,
  );
  const at = reader.getRowObjects()[0]?.at;
  return at === null || at === undefined ? null : String(at);
}
