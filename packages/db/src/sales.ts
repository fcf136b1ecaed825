import { centsToText, type IngestJobResult, type Sale, type StoredReject } from '@datasync/schemas';
import { type DuckDBAppender, type DuckDBConnection, listValue } from '@duckdb/node-api';
import { appendFigures, deleteSales, rollupRowsOf } from './sales-rollup.js';
import type { WriteContext } from './writer.js';

/**
 * Batch ingest: the rows of a batch and its ledger record commit in one transaction. A batch whose
 * id is already in the ledger writes nothing (BullMQ delivers at least once; this is where
 * "exactly once" comes from). Rows are appended into constraint-free staging tables with the
 * Appender, then merged set-based: sales with an upstream id replace the stored row of the same
 * (source, id), the last occurrence winning. The daily rollup follows in the same transaction.
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
  CREATE TEMP TABLE IF NOT EXISTS staging_daily (
    date VARCHAR, region VARCHAR, product_name VARCHAR, source VARCHAR, orders BIGINT, units BIGINT, revenue VARCHAR);
  DELETE FROM staging_sales;
  DELETE FROM staging_rejects;
  DELETE FROM staging_daily;
`;

/** The stored rows a staged upsert replaces: same (source, id). */
const REPLACED = `external_id IS NOT NULL AND (source, external_id) IN (
    SELECT source, external_id FROM staging_sales WHERE external_id IS NOT NULL)`;

/** The staged rows as sales, the last occurrence of an id winning. */
const STAGED_SALES = `SELECT source, external_id, CAST(date AS DATE) AS date, user_id, product_name, quantity,
         CAST(unit_price AS DECIMAL(18,2)) AS unit_price, CAST(total_amount AS DECIMAL(18,2)) AS total_amount,
         region, batch_id, $1::TIMESTAMPTZ AS ingested_at
  FROM staging_sales
  QUALIFY external_id IS NULL OR row_number() OVER (PARTITION BY source, external_id ORDER BY seq DESC) = 1`;

const INSERT_REJECTS = `INSERT INTO rejects
  SELECT source, batch_id, 'sale', row_number, raw, reasons, $1::TIMESTAMPTZ FROM staging_rejects`;

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
      await deleteSales(conn, REPLACED);
      await conn.run(`INSERT INTO sales ${STAGED_SALES}`, [now]);
    } else {
      // Nothing to merge: append straight into the table (no constraints to trip the Appender).
      await appendSales(conn, fresh, now);
    }
    await appendDailyFigures(conn, fresh, now);
    await appendRejectsStaging(conn, fresh);
    await conn.run(INSERT_REJECTS, [now]);
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

/**
 * The batches' figures per rollup key, summed here in exact cents (money is text with 2 places),
 * counting only the stored occurrence of an id (the last). Cheaper than summing the staged rows in
 * SQL again (13 ms against 1-2 ms for a batch of 100 beside 10M rows).
 */
async function appendDailyFigures(
  conn: DuckDBConnection,
  batches: readonly SalesBatch[],
  now: string,
): Promise<void> {
  const byKey = new Map<
    string,
    { sale: Sale; source: string; orders: number; units: number; cents: bigint }
  >();
  const lastOfId = new Map<string, Sale>();
  for (const batch of batches) {
    for (const s of batch.sales) if (s.id !== null) lastOfId.set(`${batch.source}\u0000${s.id}`, s);
  }
  for (const batch of batches) {
    for (const s of batch.sales) {
      if (s.id !== null && lastOfId.get(`${batch.source}\u0000${s.id}`) !== s) continue;
      const key = `${s.date}\u0000${s.region}\u0000${s.product_name}\u0000${batch.source}`;
      let f = byKey.get(key);
      if (f === undefined) {
        f = { sale: s, source: batch.source, orders: 0, units: 0, cents: 0n };
        byKey.set(key, f);
      }
      f.orders++;
      f.units += s.quantity;
      f.cents += BigInt(s.total_amount.replace('.', ''));
    }
  }
  if (byKey.size === 0) return;
  const daily = await conn.createAppender('staging_daily', 'main', 'temp');
  for (const f of byKey.values()) {
    daily.appendVarchar(f.sale.date);
    daily.appendVarchar(f.sale.region);
    daily.appendVarchar(f.sale.product_name);
    daily.appendVarchar(f.source);
    daily.appendBigInt(BigInt(f.orders));
    daily.appendBigInt(BigInt(f.units));
    daily.appendVarchar(centsToText(f.cents));
    daily.endRow();
  }
  daily.flushSync();
  daily.closeSync();
  await appendFigures(
    conn,
    rollupRowsOf(`SELECT CAST(date AS DATE) AS date, region, product_name, source, orders, units,
                         CAST(revenue AS DECIMAL(38,2)) AS revenue, $1::TIMESTAMPTZ AS last_ingested_at
                  FROM staging_daily`),
    [now],
  );
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
