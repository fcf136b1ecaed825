import type { Sale, StoredReject } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';
import { commitSalesBatches } from './sales.js';
import { deleteSales } from './sales-rollup.js';
import type { WriteContext } from './writer.js';

/**
 * The upstream API pull's store: each run replaces its source's rows dated in a window and moves
 * the source's watermark (`sync_watermarks`), recorded in `upstream_syncs` so a redelivered job
 * answers from its record. Every check-then-write runs in one write transaction under the single
 * writer lock.
 */

export interface UpstreamWindowCommit {
  runId: string;
  source: string;
  window: { from: string; to: string };
  pages: number;
  received: number;
  sales: Sale[];
  rejects: StoredReject[];
  /** The job result to keep with the run, given how many stored rows the window replaced. */
  describe(replaced: number): unknown;
}

export async function watermarkOf(conn: DuckDBConnection, source: string): Promise<string | null> {
  const reader = await conn.runAndReadAll(
    'SELECT watermark::VARCHAR AS w FROM sync_watermarks WHERE source = $1',
    [source],
  );
  const row = reader.getRowObjects()[0];
  return row ? String(row.w) : null;
}

/** The result a committed upstream run recorded, or null when the run has not committed. */
export async function findUpstreamRun(conn: DuckDBConnection, runId: string): Promise<unknown | null> {
  const reader = await conn.runAndReadAll('SELECT result FROM upstream_syncs WHERE run_id = $1', [runId]);
  const row = reader.getRowObjects()[0];
  return row ? JSON.parse(String(row.result)) : null;
}

/**
 * Replaces the source's rows dated in the window with the pulled ones and moves the watermark to
 * the window's end, all in the caller's transaction: a failed run changes nothing, a re-run of the
 * same window never duplicates. A sale with an id also replaces that id stored outside the window.
 * A run already committed (a redelivered job) writes nothing and returns its recorded result.
 */
export async function commitUpstreamWindow(
  tx: WriteContext,
  commit: UpstreamWindowCommit,
): Promise<{ result: unknown; duplicate: boolean }> {
  const { conn } = tx;
  const earlier = await findUpstreamRun(conn, commit.runId);
  if (earlier !== null) return { result: earlier, duplicate: true };
  const { from, to } = commit.window;
  const deleted = await deleteSales(conn, 'source = $1 AND date BETWEEN $2::DATE AND $3::DATE', [
    commit.source,
    from,
    to,
  ]);
  await commitSalesBatches(tx, [
    {
      batchId: commit.runId,
      source: commit.source,
      idempotencyKeyHash: null,
      bodyHash: commit.runId,
      received: commit.received,
      sales: commit.sales,
      rejects: commit.rejects,
      kind: 'upstream',
    },
  ]);
  await conn.run('DELETE FROM sync_watermarks WHERE source = $1', [commit.source]);
  await conn.run('INSERT INTO sync_watermarks VALUES ($1, $2::DATE, $3, now())', [
    commit.source,
    to,
    commit.runId,
  ]);
  const result = commit.describe(deleted);
  await conn.run(
    `INSERT INTO upstream_syncs VALUES ($1, $2, $3::DATE, $4::DATE, $5, $6, $7, $8, $9, $10, now())`,
    [
      commit.runId,
      commit.source,
      from,
      to,
      commit.pages,
      commit.received,
      commit.sales.length,
      commit.rejects.length,
      JSON.stringify(result),
      tx.epoch,
    ],
  );
  return { result, duplicate: false };
}

/** When each upstream source last synced, for health checks: newest first. */
export async function lastUpstreamSyncs(
  conn: DuckDBConnection,
): Promise<{ source: string; watermark: string; syncedAt: Date }[]> {
  const reader = await conn.runAndReadAll(
    'SELECT source, watermark::VARCHAR AS w, epoch_ms(updated_at) AS at FROM sync_watermarks ORDER BY updated_at DESC',
  );
  return reader.getRowObjects().map((row) => ({
    source: String(row.source),
    watermark: String(row.w),
    syncedAt: new Date(Number(row.at)),
  }));
}
