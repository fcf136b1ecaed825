import type { SaleCsvColumn } from '@datasync/schemas';
import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import { reasonsJsonSql, SALE_FIELDS, saleRulesSql } from './sale-rules-sql.js';
import type { WriteContext } from './writer.js';

/**
 * CSV import, one chunk at a time. Staging: DuckDB reads the chunk file (`read_csv`, every cell as
 * text) and validates every row with the sale rule set in SQL (sale-rules-sql.ts) into a table of
 * an in-memory database attached to the instance, `csv_stage`. Merging, in the write transaction:
 * valid rows go to `sales` (upserting by (source, id)) and the others to `rejects` with their line
 * and reasons. Nothing is parsed or checked row by row in JS.
 *
 * Why stage outside the write transaction: a table created inside it is transaction-local, and
 * DuckDB scans that storage with one thread, which made the insert into `sales` take longer than
 * reading, validating and inserting straight from the file. A committed in-memory table is scanned
 * in parallel. The staged table lives only as long as the instance: when the writer hands the
 * database over between staging and merging, `mergeCsvChunk` throws StageLostError and the caller
 * stages again.
 *
 * Rows keep file order (the table is created with insertion order preserved), so a row's index k
 * among the records DuckDB read from the chunk is its rowid minus the smallest one; the caller
 * maps k to the file's line (it knows where blank lines and multi-line records are).
 */

export interface CsvLayout {
  /** Header cells as written (trimmed), in file order: the raw JSON of a rejected row uses them. */
  header: readonly string[];
  /** Where each sale column is in the header; `id` may be absent. */
  positions: Partial<Record<SaleCsvColumn, number>>;
}

/** A record DuckDB could not split into the header's columns (too many or too few fields...). */
export interface MalformedRecord {
  /** Where DuckDB says the record starts in the chunk file (it can be a byte or so off). */
  bytePosition: number;
  /** The record as DuckDB quotes it, to find it exactly. */
  text: string;
  message: string;
}

export interface StagedChunk {
  /** The staged table, for mergeCsvChunk. */
  table: string;
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

/** The staged chunk is gone (the database was handed over and reopened): stage it again. */
export class StageLostError extends Error {
  override readonly name = 'StageLostError';
}

const STAGE_DB = 'csv_stage';
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** A staged table's name for an import (one chunk at a time per import). */
export function stagedTableName(importId: string): string {
  return `chunk_${importId.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/**
 * Reads and validates one chunk file into `csv_stage.<table>` (replacing it). Runs on a read
 * connection (DatabaseWriter.read): it writes nothing to the database file.
 */
export async function stageCsvChunk(
  conn: DuckDBConnection,
  input: { file: string; layout: CsvLayout; latestDate: string; table: string },
): Promise<StagedChunk> {
  const { layout, table } = input;
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
    FROM read_csv(${sqlString(input.file)}, header = true, auto_detect = false, columns = {${columns}},
      delim = ',', quote = '"', escape = '"', ignore_errors = true, store_rejects = true,
      rejects_table = 'csv_chunk_errors', rejects_scan = 'csv_chunk_scans')`;
  await conn.run(`ATTACH IF NOT EXISTS ':memory:' AS ${STAGE_DB}`);
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_errors');
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_scans');
  await conn.run(
    `CREATE OR REPLACE TABLE ${STAGE_DB}.${table} AS
     SELECT id, blank, valid, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
       CASE WHEN NOT valid AND NOT blank THEN ${rawJson}::VARCHAR END AS raw,
       ${SALE_FIELDS.map((f) => `e_${f}`).join(', ')}, e_sum
     FROM (${saleRulesSql(source)})`,
    { latest: input.latestDate },
  );
  const counts = await conn.runAndReadAll(
    `SELECT count(*)::BIGINT AS rows, count(*) FILTER (WHERE blank)::BIGINT AS blank,
            count(*) FILTER (WHERE valid)::BIGINT AS valid FROM ${STAGE_DB}.${table}`,
  );
  const c = counts.getRowObjects()[0]!;
  const errors = await conn.runAndReadAll(
    // One row per error: a record missing several columns has one per column.
    `SELECT line_byte_position::BIGINT AS at, first(error_type::VARCHAR ORDER BY column_idx) AS type,
            first(error_message ORDER BY column_idx) AS message, first(csv_line) AS text
     FROM temp.csv_chunk_errors GROUP BY line_byte_position ORDER BY line_byte_position`,
  );
  const malformed = errors.getRowObjects().map((row) => ({
    bytePosition: Number(row.at),
    text: String(row.text ?? ''),
    message: malformedMessage(String(row.type), String(row.message)),
  }));
  const rows = Number(c.rows);
  const blank = Number(c.blank);
  const valid = Number(c.valid);
  return { table, rows, blank, valid, invalid: rows - blank - valid, malformed };
}

/** Frees a staged chunk (after its merge committed); nothing happens when it is already gone. */
export async function dropStagedChunk(conn: DuckDBConnection, table: string): Promise<void> {
  await conn.run(`ATTACH IF NOT EXISTS ':memory:' AS ${STAGE_DB}`);
  await conn.run(`DROP TABLE IF EXISTS ${STAGE_DB}.${table}`);
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

/** Writes a staged chunk: valid rows to sales, the others to rejects. Returns its counts. */
export async function mergeCsvChunk(
  tx: WriteContext,
  staged: StagedChunk,
  merge: ChunkMerge,
): Promise<ChunkCounts> {
  const { conn } = tx;
  const found = await conn.runAndReadAll(
    'SELECT count(*)::BIGINT AS n FROM duckdb_tables() WHERE database_name = $1 AND table_name = $2',
    [STAGE_DB, staged.table],
  );
  if (Number(found.getRowObjects()[0]!.n) === 0)
    throw new StageLostError('the staged chunk is gone: stage it again');
  const table = `${STAGE_DB}.${staged.table}`;
  const now = new Date().toISOString();
  let duplicates = 0;
  let repeated = 0;
  let lastOnly = '';
  if (merge.withIds) {
    const deleted = await conn.run(
      `DELETE FROM sales WHERE source = $1 AND external_id IN (SELECT id FROM ${table} WHERE valid AND id IS NOT NULL)`,
      [merge.source],
    );
    duplicates += deleted.rowsChanged;
    const repeats = await conn.runAndReadAll(
      `SELECT (count(id) - count(DISTINCT id))::BIGINT AS n FROM ${table} WHERE valid`,
    );
    repeated = Number(repeats.getRowObjects()[0]!.n);
    if (repeated > 0) {
      // The last occurrence of an id in the file wins; earlier ones count as duplicates.
      duplicates += repeated;
      lastOnly = 'QUALIFY id IS NULL OR row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1';
    }
  }
  const inserted = await conn.run(
    `INSERT INTO sales
     SELECT $1, id, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
            $2, $3::TIMESTAMPTZ
     FROM ${table} WHERE valid ${lastOnly}`,
    [merge.source, merge.importId, now],
  );
  let rejected = 0;
  if (staged.invalid > 0) {
    const result = await conn.run(
      `INSERT INTO rejects
       SELECT $1, $2, 'csv', r.k + b.offset, r.raw, ${reasonsJsonSql('r.k + b.offset')}, $3::TIMESTAMPTZ
       FROM (SELECT rowid - (SELECT min(rowid) FROM ${table}) AS k, * FROM ${table} WHERE NOT valid AND NOT blank) r
       ASOF JOIN (SELECT unnest($4::BIGINT[]) AS k, unnest($5::BIGINT[]) AS offset) b ON r.k >= b.k`,
      [
        merge.source,
        merge.importId,
        now,
        listValue(merge.lines.starts.map(BigInt)),
        listValue(merge.lines.offsets.map(BigInt)),
      ],
    );
    rejected += result.rowsChanged;
  }
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
    rejected += merge.malformed.length;
  }
  return { accepted: inserted.rowsChanged + repeated, rejected, duplicates };
}
