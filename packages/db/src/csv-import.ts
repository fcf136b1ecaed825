import type { SaleCsvColumn } from '@datasync/schemas';
import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import { reasonsJsonSql, SALE_FIELDS, saleRulesSql } from './sale-rules-sql.js';
import type { WriteContext } from './writer.js';

/**
 * CSV import, one chunk at a time, inside the caller's write transaction: DuckDB reads the chunk
 * file (`read_csv`, every cell as text), validates every row with the sale rule set in SQL
 * (sale-rules-sql.ts) into a temp table, then the valid rows go to `sales` (upserting by
 * (source, id)) and the others to `rejects` with their line and reasons. Nothing is parsed or
 * checked row by row in JS.
 *
 * Rows keep file order: the temp table is created from the scan with insertion order preserved,
 * so its rowid is the row's index among the records DuckDB read from the chunk. The caller maps
 * that index to the file's line (it knows where blank lines and multi-line records are).
 */

export interface CsvLayout {
  /** Header cells as written (trimmed), in file order: the raw JSON of a rejected row uses them. */
  header: readonly string[];
  /** Where each sale column is in the header; `id` may be absent. */
  positions: Partial<Record<SaleCsvColumn, number>>;
}

/** A record DuckDB could not split into the header's columns (too many or too few fields...). */
export interface MalformedRecord {
  /** Byte offset of the record in the chunk file. */
  bytePosition: number;
  message: string;
}

export interface StagedChunk {
  /** Records read (rows of empty cells included). */
  rows: number;
  /** Rows whose every cell is empty: skipped like blank lines. */
  blank: number;
  valid: number;
  invalid: number;
  malformed: MalformedRecord[];
}

export interface ChunkMerge {
  importId: string;
  source: string;
  /**
   * Line of staged row k: k + offsets[i] for the last i with starts[i] <= k. Usually one entry;
   * blank lines, multi-line records and malformed records add one each.
   */
  lines: { starts: number[]; offsets: number[] };
  malformed: { line: number; raw: string; message: string }[];
  /** The chunk has an id column: valid rows upsert by (source, id). */
  withIds: boolean;
}

export interface ChunkCounts {
  accepted: number;
  rejected: number;
  duplicates: number;
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Reads and validates one chunk file into the temp table `csv_chunk` (replacing the last one). */
export async function stageCsvChunk(
  conn: DuckDBConnection,
  file: string,
  layout: CsvLayout,
  latestDate: string,
): Promise<StagedChunk> {
  const width = layout.header.length;
  const columns = Array.from({ length: width }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const cell = (field: SaleCsvColumn) => {
    const at = layout.positions[field];
    return at === undefined ? 'NULL::VARCHAR' : `c${at}`;
  };
  const cells = Array.from({ length: width }, (_, i) => `c${i}`);
  const rawJson = `json_object(${layout.header.map((name, i) => `${sqlString(name)}, c${i}`).join(', ')})`;
  const source = `SELECT ${SALE_FIELDS.map((f) => `${cell(f)} AS ${f}`).join(', ')},
      ${cells.map((c) => `${c} IS NULL`).join(' AND ')} AS blank,
      ${cells.join(', ')}
    FROM read_csv(${sqlString(file)}, header = true, auto_detect = false, columns = {${columns}},
      delim = ',', quote = '"', escape = '"', ignore_errors = true, store_rejects = true,
      rejects_table = 'csv_chunk_errors', rejects_scan = 'csv_chunk_scans')`;
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_errors');
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_scans');
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_chunk AS
     SELECT id, blank, valid, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
       CASE WHEN NOT valid AND NOT blank THEN ${rawJson} END AS raw,
       ${SALE_FIELDS.map((f) => `e_${f}`).join(', ')}, e_sum
     FROM (${saleRulesSql(source)})`,
    { latest: latestDate },
  );
  const counts = await conn.runAndReadAll(
    `SELECT count(*)::BIGINT AS rows, count(*) FILTER (WHERE blank)::BIGINT AS blank,
            count(*) FILTER (WHERE valid)::BIGINT AS valid FROM csv_chunk`,
  );
  const c = counts.getRowObjects()[0]!;
  const errors = await conn.runAndReadAll(
    `SELECT line_byte_position::BIGINT AS at, error_type::VARCHAR AS type, error_message AS message
     FROM temp.csv_chunk_errors ORDER BY line_byte_position`,
  );
  const malformed = errors.getRowObjects().map((row) => ({
    bytePosition: Number(row.at),
    message: malformedMessage(String(row.type), String(row.message)),
  }));
  const rows = Number(c.rows);
  const blank = Number(c.blank);
  const valid = Number(c.valid);
  return { rows, blank, valid, invalid: rows - blank - valid, malformed };
}

function malformedMessage(type: string, message: string): string {
  const found = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  if (found) return `the record has ${found[2]} fields; the header has ${found[1]}`;
  if (/UNQUOTED VALUE/i.test(type)) {
    return 'a quoted field is followed by other characters (a quote inside quotes is written "")';
  }
  if (/LINE SIZE/i.test(type)) return 'the record is longer than the 2 MB a CSV line may have';
  return `not valid CSV: ${message.split('\n')[0]}`;
}

/** Writes the staged chunk: valid rows to sales, the others to rejects. Returns its counts. */
export async function mergeCsvChunk(tx: WriteContext, merge: ChunkMerge): Promise<ChunkCounts> {
  const { conn } = tx;
  const now = new Date().toISOString();
  let duplicates = 0;
  let repeated = 0;
  let superseded = '';
  if (merge.withIds) {
    const deleted = await conn.run(
      `DELETE FROM sales WHERE source = $1 AND external_id IN (
         SELECT id FROM csv_chunk WHERE valid AND id IS NOT NULL)`,
      [merge.source],
    );
    duplicates += deleted.rowsChanged;
    const repeats = await conn.runAndReadAll(
      'SELECT (count(id) - count(DISTINCT id))::BIGINT AS n FROM csv_chunk WHERE valid',
    );
    repeated = Number(repeats.getRowObjects()[0]!.n);
    if (repeated > 0) {
      // The last occurrence of an id in the file wins; earlier ones count as duplicates.
      duplicates += repeated;
      superseded = 'QUALIFY id IS NULL OR row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1';
    }
  }
  const inserted = await conn.run(
    `INSERT INTO sales
     SELECT $1, id, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
            $2, $3::TIMESTAMPTZ
     FROM csv_chunk WHERE valid ${superseded}`,
    [merge.source, merge.importId, now],
  );
  const rejected = await conn.run(
    `INSERT INTO rejects
     SELECT $1, $2, 'csv', r.k + b.offset, r.raw, ${reasonsJsonSql('r.k + b.offset')}, $3::TIMESTAMPTZ
     FROM (SELECT rowid AS k, * FROM csv_chunk WHERE NOT valid AND NOT blank) r
     ASOF JOIN (SELECT unnest($4::BIGINT[]) AS k, unnest($5::BIGINT[]) AS offset) b ON r.k >= b.k`,
    [
      merge.source,
      merge.importId,
      now,
      listValue(merge.lines.starts.map(BigInt)),
      listValue(merge.lines.offsets.map(BigInt)),
    ],
  );
  if (merge.malformed.length > 0) {
    await conn.run(
      `INSERT INTO rejects
       SELECT $1, $2, 'csv', line, raw, to_json([{'index': line, 'path': '', 'message': message}]), $3::TIMESTAMPTZ
       FROM (SELECT unnest($4::INTEGER[]) AS line, unnest($5::VARCHAR[]) AS raw, unnest($6::VARCHAR[]) AS message)`,
      [
        merge.source,
        merge.importId,
        now,
        listValue(merge.malformed.map((m) => m.line)),
        listValue(merge.malformed.map((m) => JSON.stringify(m.raw))),
        listValue(merge.malformed.map((m) => m.message)),
      ],
    );
  }
  return {
    accepted: inserted.rowsChanged + repeated,
    rejected: rejected.rowsChanged + merge.malformed.length,
    duplicates,
  };
}
