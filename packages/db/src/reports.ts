import type {
  RejectEntry,
  RejectsFilter,
  RejectsPage,
  SalesSummary,
  SalesSummaryRequest,
} from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Report reads. They run on a read connection of their own (DatabaseWriter.read), beside any
 * write transaction (DuckDB's MVCC), so a report never makes ingest wait. Money is summed as
 * DECIMAL and returned as text: exact, never a float.
 */

export const SUMMARY_MAX_GROUPS = 10_000;

const GROUP_KEYS = {
  day: 'date::VARCHAR',
  region: 'region',
  product: 'product_name',
} as const satisfies Record<SalesSummaryRequest['groupBy'], string>;

export async function salesSummary(
  conn: DuckDBConnection,
  query: SalesSummaryRequest,
): Promise<SalesSummary> {
  const key = GROUP_KEYS[query.groupBy];
  const where = 'WHERE ($1::DATE IS NULL OR date >= $1::DATE) AND ($2::DATE IS NULL OR date <= $2::DATE)';
  const params = [query.from ?? null, query.to ?? null];
  const groups = await conn.runAndReadAll(
    `SELECT ${key} AS key, count(*)::BIGINT AS count, sum(quantity)::BIGINT AS quantity,
            sum(total_amount)::DECIMAL(38,2)::VARCHAR AS revenue
     FROM sales ${where} GROUP BY ALL ORDER BY key LIMIT ${SUMMARY_MAX_GROUPS + 1}`,
    params,
  );
  const totals = await conn.runAndReadAll(
    `SELECT count(*)::BIGINT AS count, coalesce(sum(quantity), 0)::BIGINT AS quantity,
            coalesce(sum(total_amount), 0)::DECIMAL(38,2)::VARCHAR AS revenue
     FROM sales ${where}`,
    params,
  );
  const rows = groups.getRowObjects().map((row) => ({
    key: String(row.key),
    count: Number(row.count),
    quantity: Number(row.quantity),
    revenue: String(row.revenue),
  }));
  const t = totals.getRowObjects()[0]!;
  return {
    groupBy: query.groupBy,
    from: query.from ?? null,
    to: query.to ?? null,
    rows: rows.slice(0, SUMMARY_MAX_GROUPS),
    totals: { count: Number(t.count), quantity: Number(t.quantity), revenue: String(t.revenue) },
    truncated: rows.length > SUMMARY_MAX_GROUPS,
  };
}

/** Quarantined records, oldest (or newest) first, filtered by batch or CSV import, source and reason text, paged. */
export async function listRejects(
  conn: DuckDBConnection,
  filter: Omit<RejectsFilter, 'newest'> & { newest?: boolean },
): Promise<RejectsPage> {
  const where = `WHERE ($1::VARCHAR IS NULL OR batch_id = $1) AND ($2::VARCHAR IS NULL OR source = $2)
    AND ($3::VARCHAR IS NULL OR (batch_id = $3 AND kind = 'csv'))
    AND ($4::VARCHAR IS NULL OR contains(lower(reasons), lower($4)))`;
  const params = [
    filter.batchId ?? null,
    filter.source ?? null,
    filter.importId ?? null,
    filter.reason ?? null,
  ];
  const order = filter.newest ? 'DESC' : 'ASC';
  const count = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM rejects ${where}`, params);
  const page = await conn.runAndReadAll(
    `SELECT source, batch_id, kind, row_number, raw, reasons, epoch_ms(rejected_at) AS at
     FROM rejects ${where}
     ORDER BY rejected_at ${order}, batch_id ${order}, row_number ${order} LIMIT ${filter.limit} OFFSET ${filter.offset}`,
    params,
  );
  const items: RejectEntry[] = page.getRowObjects().map((row) => ({
    source: String(row.source),
    batchId: String(row.batch_id),
    kind: String(row.kind),
    rowNumber: Number(row.row_number),
    raw: String(row.raw),
    reasons: JSON.parse(String(row.reasons)),
    rejectedAt: new Date(Number(row.at)).toISOString(),
  }));
  return { total: Number(count.getRowObjects()[0]!.n), limit: filter.limit, offset: filter.offset, items };
}
