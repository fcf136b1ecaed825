import type { IngestJobResult, Sale, StoredReject } from '@datasync/schemas';
import { type DuckDBAppender, type DuckDBConnection, listValue } from '@duckdb/node-api';
import type { WriteContext } from './writer.js';

/**
 * Batch ingest: the rows of a batch and its ledger record commit in one transaction. A batch whose
 * id is already in the ledger writes nothing (BullMQ delivers at least once; this is where
 * "exactly once" comes from). Rows are appended into constraint-free staging tables with the
 * Appender, then merged set-based: sales with an upstream id replace the stored row of the same
 * (source, id), the last occurrence winning.
 */

/** A batch to commit: validated sales and the quarantined records, with its ledger identity. */
export interface SalesBatch {
  batchId: string;
  source: string;
  idempotencyKeyHash: string | null;
  bodyHash: string;
  received: number;
  sales: Sale[];
  rejects: StoredReject[];
  /** Ledger kind: api-batch (default), csv, upstream. */
  kind?: string;
}

const STAGING = `
  CREATE TEMP TABLE IF NOT EXISTS staging_sales (
    seq BIGINT, source VARCHAR, external_id VARCHAR, date VARCHAR, user_id BIGINT, product_name VARCHAR,
    quantity INTEGER, unit_price VARCHAR, total_amount VARCHAR, region VARCHAR, batch_id VARCHAR);
  CREATE TEMP TABLE IF NOT EXISTS staging_rejects (
    source VARCHAR, batch_id VARCHAR, row_number INTEGER, raw VARCHAR, reasons VARCHAR);
  DELETE FROM staging_sales;
  DELETE FROM staging_rejects;
`;

/** Run one by one: DuckDB binds parameters per statement. */
const MERGE = [
  `DELETE FROM sales WHERE external_id IS NOT NULL AND (source, external_id) IN (
    SELECT source, external_id FROM staging_sales WHERE external_id IS NOT NULL)`,
  `INSERT INTO sales
  SELECT source, external_id, CAST(date AS DATE), user_id, product_name, quantity,
         CAST(unit_price AS DECIMAL(18,2)), CAST(total_amount AS DECIMAL(18,2)), region, batch_id, $1::TIMESTAMPTZ
  FROM staging_sales
  QUALIFY external_id IS NULL OR row_number() OVER (PARTITION BY source, external_id ORDER BY seq DESC) = 1`,
  `INSERT INTO rejects
  SELECT source, batch_id, 'sale', row_number, raw, reasons, $1::TIMESTAMPTZ FROM staging_rejects`,
];

export async function committedBatchIds(
  conn: DuckDBConnection,
  batchIds: readonly string[],
): Promise<Set<string>> {
  if (batchIds.length === 0) return new Set();
  const reader = await conn.runAndReadAll(
    `SELECT batch_id FROM ingest_batches WHERE batch_id IN (SELECT unnest($1::VARCHAR[]))`,
    [listValue(batchIds)],
  );
  return new Set(reader.getRowObjects().map((row) => String(row.batch_id)));
}

/**
 * Commits several batches in the caller's transaction (group commit). Returns one result per
 * batch, in order; batches already in the ledger come back as duplicates and write nothing.
 */
export async function commitSalesBatches(
  tx: WriteContext,
  batches: readonly SalesBatch[],
): Promise<IngestJobResult[]> {
  const { conn, epoch } = tx;
  const now = new Date().toISOString();
  const seen = await committedBatchIds(
    conn,
    batches.map((b) => b.batchId),
  );
  await conn.run(STAGING);
  const fresh: SalesBatch[] = [];
  const inThisGroup = new Set<string>();
  for (const batch of batches) {
    if (seen.has(batch.batchId) || inThisGroup.has(batch.batchId)) continue;
    inThisGroup.add(batch.batchId);
    fresh.push(batch);
  }
  if (fresh.length > 0) {
    const withIds = fresh.some((b) => b.sales.some((s) => s.id !== null));
    if (withIds) {
      // Upserts by (source, id): stage, then delete-and-insert set-based, the last occurrence winning.
      await appendStaging(conn, fresh);
      await conn.run(MERGE[0]!);
      await conn.run(MERGE[1]!, [now]);
    } else {
      // Nothing to merge: append straight into the table (no constraints to trip the Appender).
      await appendSales(conn, fresh, now);
    }
    await appendRejectsStaging(conn, fresh);
    await conn.run(MERGE[2]!, [now]);
    const ledger = await conn.createAppender('ingest_batches');
    for (const b of fresh) {
      ledger.appendVarchar(b.batchId);
      ledger.appendVarchar(b.source);
      ledger.appendVarchar(b.kind ?? 'api-batch');
      if (b.idempotencyKeyHash === null) ledger.appendNull();
      else ledger.appendVarchar(b.idempotencyKeyHash);
      ledger.appendVarchar(b.bodyHash);
      ledger.appendInteger(b.received);
      ledger.appendInteger(b.sales.length);
      ledger.appendInteger(b.rejects.length);
      ledger.appendBigInt(BigInt(epoch));
      ledger.appendVarchar(now);
      ledger.endRow();
    }
    ledger.flushSync();
    ledger.closeSync();
  }
  const freshIds = new Set(fresh.map((b) => b.batchId));
  return batches.map((b) => ({
    batchId: b.batchId,
    stored: freshIds.has(b.batchId) ? b.sales.length : 0,
    rejected: b.rejects.length,
    duplicate: !freshIds.has(b.batchId),
    committedAt: now,
  }));
}

/** The sale columns both targets share, in table order: source, external_id .. region, batch_id. */
function appendSaleColumns(appender: DuckDBAppender, batch: SalesBatch, s: Sale): void {
  appender.appendVarchar(batch.source);
  if (s.id === null) appender.appendNull();
  else appender.appendVarchar(s.id);
  appender.appendVarchar(s.date);
  appender.appendBigInt(BigInt(s.user_id));
  appender.appendVarchar(s.product_name);
  appender.appendInteger(s.quantity);
  appender.appendVarchar(s.unit_price);
  appender.appendVarchar(s.total_amount);
  appender.appendVarchar(s.region);
  appender.appendVarchar(batch.batchId);
}

async function appendSales(
  conn: DuckDBConnection,
  batches: readonly SalesBatch[],
  now: string,
): Promise<void> {
  const sales = await conn.createAppender('sales');
  for (const batch of batches) {
    for (const s of batch.sales) {
      appendSaleColumns(sales, batch, s);
      sales.appendVarchar(now);
      sales.endRow();
    }
  }
  sales.flushSync();
  sales.closeSync();
}

/** Staging keeps the arrival order (seq) so the last occurrence of an id wins the merge. */
async function appendStaging(conn: DuckDBConnection, batches: readonly SalesBatch[]): Promise<void> {
  const staging = await conn.createAppender('staging_sales', 'main', 'temp');
  let seq = 0n;
  for (const batch of batches) {
    for (const s of batch.sales) {
      staging.appendBigInt(seq++);
      appendSaleColumns(staging, batch, s);
      staging.endRow();
    }
  }
  staging.flushSync();
  staging.closeSync();
}

async function appendRejectsStaging(conn: DuckDBConnection, batches: readonly SalesBatch[]): Promise<void> {
  const rejects = await conn.createAppender('staging_rejects', 'main', 'temp');
  for (const batch of batches) {
    for (const r of batch.rejects) {
      rejects.appendVarchar(batch.source);
      rejects.appendVarchar(batch.batchId);
      rejects.appendInteger(r.index);
      rejects.appendVarchar(r.raw);
      rejects.appendVarchar(JSON.stringify(r.reasons));
      rejects.endRow();
    }
  }
  rejects.flushSync();
  rejects.closeSync();
}

/** Counts and sums for checks and tests: exact decimals as text. */
export async function salesTotals(conn: DuckDBConnection): Promise<{ rows: number; totalAmount: string }> {
  const reader = await conn.runAndReadAll(
    `SELECT count(*)::BIGINT AS n, coalesce(sum(total_amount), 0)::DECIMAL(38,2)::VARCHAR AS total FROM sales`,
  );
  const row = reader.getRowObjects()[0]!;
  return { rows: Number(row.n), totalAmount: String(row.total) };
}
