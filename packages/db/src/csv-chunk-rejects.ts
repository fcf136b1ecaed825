import { listValue } from '@duckdb/node-api';
import type { ChunkPlacement, CsvChunkInput, CsvLayout } from './csv-chunk-types.js';
import { reasonsJsonSql, refusedReasonsSql, SALE_FIELDS, saleRulesSql } from './sale-rules-sql.js';
import type { WriteContext } from './writer.js';

/**
 * The records of a CSV chunk that the strict fast path did not take: the rows DuckDB read
 * (through the whole rule set: stored normalised or quarantined), the records it could not read,
 * and those the worker set aside before DuckDB (both quarantined as the worker placed them).
 */

export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The sale fields over the cells (`c<i> AS date`...), NULL for a column the file lacks. */
export function fieldsSql(layout: CsvLayout): string {
  return SALE_FIELDS.map((f) => {
    const at = layout.positions[f];
    return `${at === undefined ? 'NULL::VARCHAR' : `c${at}`} AS ${f}`;
  }).join(', ');
}

/** The records the worker kept out of the chunk file (not UTF-8, too long...), as rejects. */
export async function insertSetAside(tx: WriteContext, input: CsvChunkInput): Promise<number> {
  return insertListed(tx, input, input.setAside ?? []);
}

/** Rejects the worker made or placed itself: its line, raw JSON text and reasons each. */
async function insertListed(
  tx: WriteContext,
  input: CsvChunkInput,
  records: readonly { line: number; raw: string; reasons: { path: string; message: string }[] }[],
): Promise<number> {
  if (records.length === 0) return 0;
  const reasons = records.map((r) => JSON.stringify(r.reasons.map((x) => ({ index: r.line, ...x }))));
  const inserted = await tx.conn.run(
    `INSERT INTO rejects
     SELECT $1, $2, 'csv', line, raw, reasons, $3::TIMESTAMPTZ
     FROM (SELECT unnest($4::INTEGER[]) AS line, unnest($5::VARCHAR[]) AS raw, unnest($6::VARCHAR[]) AS reasons)`,
    [
      input.source,
      input.importId,
      new Date().toISOString(),
      listValue(records.map((r) => r.line)),
      listValue(records.map((r) => r.raw)),
      listValue(reasons),
    ],
  );
  return inserted.rowsChanged;
}

/**
 * The rows of temp.csv_read_rows the fast path did not accept, through the whole rule set into
 * temp.csv_slow_rows (k = place among the rows read: a temporary table numbers its rows from an
 * offset of its own, in file order; the upsert reads it too): the valid ones
 * go to sales after the fast rows, in file order; the others and the unreadable records to
 * rejects on their lines.
 */
export async function checkOtherRows(
  tx: WriteContext,
  input: CsvChunkInput,
  placement: ChunkPlacement,
  at: string,
): Promise<{ blank: number; accepted: number; rejected: number }> {
  const { conn } = tx;
  const { layout } = input;
  const cells = layout.header.map((_, i) => `c${i}`);
  const rawJson =
    input.cells?.raw ??
    `json_object(${layout.header.map((name, i) => `${sqlString(name)}, c${i}`).join(', ')})`;
  const refusedCell = input.cells?.refusedCell;
  const refused = refusedCell === undefined ? 'NULL::VARCHAR' : `c${refusedCell}`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_slow_rows AS
     SELECT k, blank, valid AND refused IS NULL AS valid, refused, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region, id,
       CASE WHEN NOT (valid AND refused IS NULL) AND NOT blank THEN ${rawJson}::VARCHAR END AS raw,
       ${SALE_FIELDS.map((f) => `e_${f}`).join(', ')}, e_sum
     FROM (${saleRulesSql(
       `SELECT ${fieldsSql(layout)}, ${cells.map((c) => `${c} IS NULL`).join(' AND ')} AS blank, ${cells.join(', ')}, k, ${refused} AS refused
        FROM (SELECT rowid - (SELECT min(rowid) FROM temp.csv_read_rows) AS k, ${cells.map((c) => `other.${c} AS ${c}`).join(', ')}
              FROM temp.csv_read_rows WHERE other IS NOT NULL)`,
     )})`,
    { latest: input.latestDate },
  );
  const c = (
    await conn.runAndReadAll(
      `SELECT count(*) FILTER (WHERE blank)::BIGINT AS blank,
              count(*) FILTER (WHERE NOT valid AND NOT blank)::BIGINT AS invalid
       FROM temp.csv_slow_rows`,
    )
  ).getRowObjects()[0]!;
  // In file order, after the fast rows: the upsert finds a row's place in the file from that.
  const inserted = await conn.run(
    `INSERT INTO sales
     SELECT $source, id, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
            $importId, $at::TIMESTAMPTZ
     FROM temp.csv_slow_rows WHERE valid ORDER BY k`,
    { source: input.source, importId: input.importId, at },
  );
  let rejected = 0;
  if (Number(c.invalid) > 0) rejected += await insertInvalidRows(tx, input, placement);
  // The records DuckDB could not read: their text as a JSON string, and why.
  rejected += await insertListed(
    tx,
    input,
    placement.malformed.map((m) => ({
      line: m.line,
      raw: JSON.stringify(m.raw),
      reasons: [{ path: '', message: m.message }],
    })),
  );
  return { blank: Number(c.blank), accepted: inserted.rowsChanged, rejected };
}

async function insertInvalidRows(
  tx: WriteContext,
  input: CsvChunkInput,
  placement: ChunkPlacement,
): Promise<number> {
  const result = await tx.conn.run(
    `INSERT INTO rejects
     SELECT $1, $2, 'csv', r.k + b.offset, r.raw, CASE WHEN r.refused IS NULL THEN ${reasonsJsonSql('r.k + b.offset')} ELSE ${refusedReasonsSql('r.k + b.offset', 'r.refused')} END, $3::TIMESTAMPTZ
     FROM (SELECT * FROM temp.csv_slow_rows WHERE NOT valid AND NOT blank) r
     ASOF JOIN (SELECT unnest($4::BIGINT[]) AS k, unnest($5::BIGINT[]) AS offset) b ON r.k >= b.k`,
    [
      input.source,
      input.importId,
      new Date().toISOString(),
      listValue(placement.lines.starts.map(BigInt)),
      listValue(placement.lines.offsets.map(BigInt)),
    ],
  );
  return result.rowsChanged;
}
