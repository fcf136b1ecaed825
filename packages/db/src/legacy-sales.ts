import { MIGRATION_SOURCE } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './csv-chunk-rejects.js';
import { type LegacyTable, legacyFieldSql, legacyTableSql, quoteIdent } from './legacy-source.js';
import { reasonsJsonSql, SALE_FIELDS, saleRulesSql } from './sale-rules-sql.js';
import { addToRollup } from './sales-rollup.js';
import type { WriteContext } from './writer.js';

/**
 * One chunk of the old `sales` (a rowid range) through the sale rule set of every other path
 * (saleRulesSql), in the caller's transaction with its ledger row: valid rows stored under source
 * `migration` with the old id as their id, the others quarantined with the old row and reasons.
 * A row whose id was already stored (or repeats in the old table) is quarantined as a repeat, so
 * every old row is accounted for and none is stored twice.
 */

export interface LegacyChunk {
  migrationId: string;
  batchId: string;
  table: LegacyTable;
  chunk: number;
  from: number;
  to: number;
  /** latestSaleDate() when the migration began. */
  latestDate: string;
}

export interface LegacyChunkCounts {
  read: number;
  stored: number;
  rejected: number;
  existing: number;
}

/** The ledger row of a chunk committed by an earlier run, or null. */
export async function committedLegacyChunk(
  conn: DuckDBConnection,
  migrationId: string,
  table: string,
  chunk: number,
): Promise<LegacyChunkCounts | null> {
  const reader = await conn.runAndReadAll(
    `SELECT read, stored, rejected, existing FROM legacy_migration_chunks
     WHERE migration_id = $1 AND table_name = $2 AND chunk = $3`,
    [migrationId, table, chunk],
  );
  const row = reader.getRowObjects()[0];
  return row
    ? {
        read: Number(row.read),
        stored: Number(row.stored),
        rejected: Number(row.rejected),
        existing: Number(row.existing),
      }
    : null;
}

export async function migrateSalesChunk(tx: WriteContext, input: LegacyChunk): Promise<LegacyChunkCounts> {
  const { conn } = tx;
  const t = input.table;
  const at = new Date().toISOString();
  const fields = SALE_FIELDS.filter((f) => f !== 'id').map((f) => `${legacyFieldSql(t, f)} AS ${f}`);
  // The old id is the row's identity; a table without one (or a row without) uses its rowid.
  const id = t.columns.id ? `coalesce(${legacyFieldSql(t, 'id')}, 'row:' || o.rowid)` : `'row:' || o.rowid`;
  // The old row as text, every column (a DECIMAL 1500.00 stays "1500.00", not the number 1500.0).
  const raw = `json_object(${t.oldColumns.map((c) => `${sqlString(c)}, CAST(o.${quoteIdent(c)} AS VARCHAR)`).join(', ')})::VARCHAR`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE legacy_chunk AS
     SELECT k, id, raw, valid, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
       ${SALE_FIELDS.map((f) => `e_${f}`).join(', ')}, e_sum,
       valid AND (row_number() OVER (PARTITION BY id, valid ORDER BY k) > 1
         OR id IN (SELECT external_id FROM sales WHERE source = '${MIGRATION_SOURCE}' AND external_id IS NOT NULL)) AS repeat
     FROM (${saleRulesSql(
       `SELECT ${id} AS id, ${fields.join(', ')}, o.rowid AS k, ${raw} AS raw
        FROM ${legacyTableSql(t)} o WHERE o.rowid >= $from AND o.rowid < $to`,
     )})`,
    { from: BigInt(input.from), to: BigInt(input.to), latest: input.latestDate },
  );
  const rows = `SELECT '${MIGRATION_SOURCE}' AS source, id AS external_id, v_date AS date, v_user_id AS user_id,
            v_product_name AS product_name, v_quantity AS quantity, v_unit_price AS unit_price,
            v_total_amount AS total_amount, v_region AS region, $batch AS batch_id, $at::TIMESTAMPTZ AS ingested_at
     FROM temp.legacy_chunk WHERE valid AND NOT repeat`;
  const stored = await conn.run(`INSERT INTO sales ${rows} ORDER BY k`, { batch: input.batchId, at });
  await addToRollup(conn, rows, { batch: input.batchId, at });
  const invalid = await conn.run(
    `INSERT INTO rejects
     SELECT '${MIGRATION_SOURCE}', $batch, 'sale', k, raw, ${reasonsJsonSql('k')}, $at::TIMESTAMPTZ
     FROM temp.legacy_chunk WHERE NOT valid`,
    { batch: input.batchId, at },
  );
  const repeats = await conn.run(
    `INSERT INTO rejects
     SELECT '${MIGRATION_SOURCE}', $batch, 'sale', k, raw,
       to_json([{'index': k, 'path': 'id', 'message': 'id ' || id || ' repeats an old row already stored (the first one is kept)'}]),
       $at::TIMESTAMPTZ
     FROM temp.legacy_chunk WHERE repeat`,
    { batch: input.batchId, at },
  );
  const read = Number(
    (await conn.runAndReadAll('SELECT count(*)::BIGINT AS n FROM temp.legacy_chunk')).getRowObjects()[0]!.n,
  );
  await conn.run('DROP TABLE IF EXISTS temp.legacy_chunk');
  const counts = {
    read,
    stored: stored.rowsChanged,
    rejected: invalid.rowsChanged + repeats.rowsChanged,
    existing: 0,
  };
  await recordLegacyChunk(tx, input.migrationId, 'sales', input.chunk, counts);
  return counts;
}

/** The ledger row, in the chunk's transaction: a rerun finds it and skips the chunk. */
export async function recordLegacyChunk(
  tx: WriteContext,
  migrationId: string,
  table: string,
  chunk: number,
  counts: LegacyChunkCounts,
): Promise<void> {
  await tx.conn.run(
    `INSERT INTO legacy_migration_chunks VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::TIMESTAMPTZ)`,
    [
      migrationId,
      table,
      chunk,
      counts.read,
      counts.stored,
      counts.rejected,
      counts.existing,
      BigInt(tx.epoch),
      new Date().toISOString(),
    ],
  );
}
