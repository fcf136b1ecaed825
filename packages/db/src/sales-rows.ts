import type { SaleRow, SalesBatchOrigin, SalesRowsPage, SalesRowsQuery } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Drill-down reads, on a read connection like every report: the sales rows behind a figure (the
 * analytics' filters, newest sale date first, paged) and the origin of a row's batch.
 */

const ISO = `'%Y-%m-%dT%H:%M:%S.%gZ'`;

export async function listSales(conn: DuckDBConnection, q: SalesRowsQuery): Promise<SalesRowsPage> {
  // Only the filters set (an unset one as `$n IS NULL OR ...` costs a scan's worth).
  const params: (string | null)[] = [];
  const conditions: string[] = [];
  for (const [sql, value] of [
    ['date >= $?::DATE', q.from],
    ['date <= $?::DATE', q.to],
    ['region = $?', q.region],
    ['product_name = $?', q.product],
    ['source = $?', q.source],
    ['batch_id = $?', q.batchId],
  ] as const) {
    if (value === undefined || value === null) continue;
    params.push(value);
    conditions.push(sql.replace('$?', `$${params.length}`));
  }
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
  const order = 'ORDER BY date DESC, ingested_at DESC, rowid DESC';
  const count = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM sales ${where}`, params);
  // The page's rows are found on the ordering columns alone, then read whole: sorting every
  // column of 10M rows for page 100 took 290 ms here, this 21 ms.
  const page = await conn.runAndReadAll(
    `SELECT source, external_id, date::VARCHAR AS date, user_id, product_name, quantity,
            unit_price::VARCHAR AS unit_price, total_amount::VARCHAR AS total_amount, region, batch_id,
            strftime(ingested_at AT TIME ZONE 'UTC', ${ISO}) AS ingested_at
     FROM sales WHERE rowid IN (SELECT rowid FROM sales ${where} ${order} LIMIT ${q.limit} OFFSET ${q.offset})
     ${order}`,
    params,
  );
  const items: SaleRow[] = page.getRowObjects().map((r) => ({
    source: String(r.source),
    externalId: r.external_id === null ? null : String(r.external_id),
    date: String(r.date),
    userId: Number(r.user_id),
    productName: String(r.product_name),
    quantity: Number(r.quantity),
    unitPrice: String(r.unit_price),
    totalAmount: String(r.total_amount),
    region: String(r.region),
    batchId: String(r.batch_id),
    ingestedAt: String(r.ingested_at),
  }));
  return { items, total: Number(count.getRowObjects()[0]!.n), limit: q.limit, offset: q.offset };
}

/** Where a batch id came from: a POSTed batch or upstream pull (the ingest ledger) or a CSV import. */
export async function findSalesBatch(
  conn: DuckDBConnection,
  batchId: string,
): Promise<SalesBatchOrigin | null> {
  const csv = (
    await conn.runAndReadAll(
      `SELECT file_name, file_sha256, bytes, state, received, accepted, rejected, duplicates,
              strftime(finished_at AT TIME ZONE 'UTC', ${ISO}) AS finished_at
       FROM csv_imports WHERE import_id = $1`,
      [batchId],
    )
  ).getRowObjects()[0];
  if (csv) {
    return {
      batchId,
      kind: 'csv',
      source: 'csv',
      received: Number(csv.received),
      stored: Number(csv.accepted),
      rejected: Number(csv.rejected),
      duplicates: Number(csv.duplicates),
      committedAt: csv.finished_at === null ? null : String(csv.finished_at),
      file: {
        name: csv.file_name === null ? null : String(csv.file_name),
        sha256: String(csv.file_sha256),
        bytes: Number(csv.bytes),
        state: String(csv.state),
      },
      window: null,
    };
  }
  const batch = (
    await conn.runAndReadAll(
      `SELECT b.kind, b.source, b.received, b.stored, b.rejected,
              strftime(b.committed_at AT TIME ZONE 'UTC', ${ISO}) AS committed_at,
              u.window_from::VARCHAR AS window_from, u.window_to::VARCHAR AS window_to
       FROM ingest_batches b LEFT JOIN upstream_syncs u ON u.run_id = b.batch_id
       WHERE b.batch_id = $1 LIMIT 1`,
      [batchId],
    )
  ).getRowObjects()[0];
  if (!batch) return null;
  return {
    batchId,
    kind: String(batch.kind),
    source: String(batch.source),
    received: Number(batch.received),
    stored: Number(batch.stored),
    rejected: Number(batch.rejected),
    duplicates: null,
    committedAt: String(batch.committed_at),
    file: null,
    window:
      batch.window_from === null ? null : { from: String(batch.window_from), to: String(batch.window_to) },
  };
}
