import type { Sale, StoredReject } from '@datasync/schemas';
import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import { commitSalesBatches } from './sales.js';
import type { WriteContext } from './writer.js';

/**
 * The legacy SQL source's store: each page of rows commits in one transaction with its rejects and
 * the advanced cursor (`sql_cursors`), so a pull that dies mid-page leaves nothing of that page and
 * the cursor at the last committed page. The rows go through `commitSalesBatches` (kind `sql`):
 * they upsert by (source, key), so a row updated at the source replaces the stored one.
 */

export interface SqlCursor {
  /** The cursor column's value of the last committed row, as the source prints it. */
  value: string;
  /** Keys of the committed rows whose cursor equals `value` (bounded by the caller). */
  boundaryKeys: string[];
}

export interface SqlPageCommit {
  source: string;
  runId: string;
  batchId: string;
  /** The cursor this page was read from: the commit fails if another run moved it meanwhile. */
  expected: SqlCursor | null;
  next: SqlCursor;
  received: number;
  sales: Sale[];
  rejects: StoredReject[];
}

/** Another pull of the same source committed first: this page was not written. */
export class SqlCursorMovedError extends Error {
  override readonly name = 'SqlCursorMovedError';
}

export async function sqlCursorOf(conn: DuckDBConnection, source: string): Promise<SqlCursor | null> {
  const reader = await conn.runAndReadAll(
    'SELECT cursor_value, boundary_keys FROM sql_cursors WHERE source = $1',
    [source],
  );
  const row = reader.getRowObjects()[0];
  if (!row) return null;
  return { value: String(row.cursor_value), boundaryKeys: JSON.parse(String(row.boundary_keys)) as string[] };
}

export async function commitSqlPage(tx: WriteContext, page: SqlPageCommit): Promise<void> {
  const { conn } = tx;
  const stored = await sqlCursorOf(conn, page.source);
  if ((stored?.value ?? null) !== (page.expected?.value ?? null)) {
    throw new SqlCursorMovedError(
      `the cursor of ${page.source} moved while this page was read (another pull?)`,
    );
  }
  await commitSalesBatches(tx, [
    {
      batchId: page.batchId,
      source: page.source,
      idempotencyKeyHash: null,
      bodyHash: page.batchId,
      received: page.received,
      sales: page.sales,
      rejects: page.rejects,
      kind: 'sql',
    },
  ]);
  await conn.run('DELETE FROM sql_cursors WHERE source = $1', [page.source]);
  await conn.run('INSERT INTO sql_cursors VALUES ($1, $2, $3, $4, $5, now())', [
    page.source,
    page.next.value,
    JSON.stringify(page.next.boundaryKeys),
    page.runId,
    tx.epoch,
  ]);
}

/**
 * Rows of `source` per sale date among `days`, stored or quarantined (a quarantined key counted
 * once, and not when the key is stored): what the source's own count per day is compared with.
 */
export async function sqlStoredCountsByDay(
  conn: DuckDBConnection,
  source: string,
  days: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (days.length === 0) return counts;
  const reader = await conn.runAndReadAll(
    `WITH wanted AS (SELECT unnest($2::VARCHAR[]) AS day),
     stored AS (SELECT date::VARCHAR AS day, count(*) AS n FROM sales
                WHERE source = $1 AND date IN (SELECT day::DATE FROM wanted) GROUP BY ALL),
     quarantined AS (
       SELECT json_extract_string(raw, '$.date') AS day, count(DISTINCT json_extract_string(raw, '$.id')) AS n
       FROM rejects
       WHERE source = $1 AND json_extract_string(raw, '$.date') IN (SELECT day FROM wanted)
         AND json_extract_string(raw, '$.id') NOT IN (
           SELECT external_id FROM sales WHERE source = $1 AND external_id IS NOT NULL)
       GROUP BY ALL)
     SELECT day, sum(n)::BIGINT AS n FROM (SELECT * FROM stored UNION ALL SELECT * FROM quarantined) GROUP BY day`,
    [source, listValue([...days])],
  );
  for (const row of reader.getRowObjects()) counts.set(String(row.day), Number(row.n));
  return counts;
}
