import type { SaleCsvColumn } from '@datasync/schemas';
import { listValue } from '@duckdb/node-api';
import {
  reasonsJsonSql,
  SALE_FAST_VALUES_SQL,
  SALE_FIELDS,
  saleFastSql,
  saleRulesSql,
} from './sale-rules-sql.js';
import type { WriteContext } from './writer.js';

/**
 * CSV import, one chunk file per transaction, validated inside DuckDB (nothing is parsed or
 * checked row by row in JS):
 *
 * 1. DuckDB reads the chunk (`read_csv`, every cell as text) and inserts the rows the strict fast
 *    path accepts (`saleFastSql`) straight into `sales`: one streaming statement, no staging, the
 *    way `read_csv` into a table runs. On an ordinary file that is nearly every row.
 * 2. Only when fewer rows went in than the chunk has records, DuckDB reads the chunk again into a
 *    temporary table of one column, in file order (rowid = place): NULL for a fast row, the cells
 *    of any other. The whole rule set (`saleRulesSql`) runs over those few rows: the valid ones
 *    (written loosely: " 7 ", "7.0") are inserted, the others quarantined with their line and
 *    reasons, and the records DuckDB could not read (wrong field count...) come from its CSV
 *    rejects table.
 * 3. With an id column, valid rows upsert by (source, id): a stored row with the same id is
 *    replaced, and within the file the last occurrence wins.
 *
 * Measured on 1M rows (bench/csv-bench.mjs): a clean file 1.25 s where staging every validated
 * row in memory and merging it took 1.85 s; a file with a bad row in every thousand pays the
 * second read (~0.45 s). Numbering rows while reading (`WITH ORDINALITY`) would spare the table
 * but makes DuckDB read on one thread (0.65 s).
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

/** Where the rows DuckDB read lie in the file, from the worker's own scan of the chunk. */
export interface ChunkPlacement {
  /**
   * Line of read row k (0-based, in file order, the unreadable records skipped): k + offsets[i]
   * for the last i with starts[i] <= k. Usually one entry; blank lines, multi-line records and
   * unreadable records add one each.
   */
  lines: { starts: number[]; offsets: number[] };
  /** The unreadable records with their line and text. */
  malformed: { line: number; raw: string; message: string }[];
}

/** A record the worker quarantines itself (DuckDB never reads it): its line, raw text, reasons. */
export interface SetAsideReject {
  line: number;
  /** JSON text: the cells by header name, or the record's text as a JSON string. */
  raw: string;
  reasons: { path: string; message: string }[];
}

export interface CsvChunkInput {
  file: string;
  layout: CsvLayout;
  /** latestSaleDate() when the import began. */
  latestDate: string;
  importId: string;
  source: string;
  /** Records in the chunk file as the worker's scan counted them (blank lines not counted). */
  records: number;
  /** Records of the chunk left out of the chunk file, stored as rejects with it. */
  setAside?: SetAsideReject[];
  /** Places the rows once DuckDB has said how many it read and which records it could not. */
  place(read: { rows: number; malformed: MalformedRecord[] }): Promise<ChunkPlacement>;
}

export interface ChunkCounts {
  accepted: number;
  rejected: number;
  duplicates: number;
}

export interface ChunkResult extends ChunkCounts {
  /** Records of the chunk: accepted + rejected (rows whose every cell is empty are no record). */
  received: number;
  /** Rows of the chunk file whose every cell is empty: skipped, like blank lines. */
  empty: number;
}

/**
 * The chunk's counts do not add up to its records (DuckDB read more or fewer rows than the
 * worker's scan found): nothing of the chunk is committed, and a retry would do the same.
 */
export class CsvCountMismatchError extends Error {
  override readonly name = 'CsvCountMismatchError';
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;
/**
 * The chunk's rows in `sales`: those with a rowid above the largest before its first insert.
 * DuckDB only appends, and no checkpoint renumbers rows inside the transaction; a rowid filter
 * is pushed into the scan, so this reads none of the stored rows (a filter on the chunk's batch
 * and time read all of them: 0.84 s instead of 0.07 s for an upsert against 9M stored rows).
 */
const CHUNK_ROWS = 'rowid > $before';

/** Writes one chunk file: valid rows to sales (upserting ids), the others to rejects. */
export async function importCsvChunk(tx: WriteContext, input: CsvChunkInput): Promise<ChunkResult> {
  const setAside = await insertSetAside(tx, input);
  if (input.records === 0) {
    return { received: setAside, accepted: 0, rejected: setAside, duplicates: 0, empty: 0 };
  }
  const read = await importChunkFile(tx, input);
  const result = { ...read, received: read.received + setAside, rejected: read.rejected + setAside };
  if (result.received !== result.accepted + result.rejected) {
    throw new CsvCountMismatchError(
      `${result.received} records received but ${result.accepted} accepted and ${result.rejected} rejected`,
    );
  }
  return result;
}

async function insertSetAside(tx: WriteContext, input: CsvChunkInput): Promise<number> {
  const records = input.setAside ?? [];
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

async function importChunkFile(tx: WriteContext, input: CsvChunkInput): Promise<ChunkResult> {
  const { conn } = tx;
  const { layout } = input;
  const width = layout.header.length;
  const columns = Array.from({ length: width }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const cell = (field: SaleCsvColumn) => {
    const at = layout.positions[field];
    return at === undefined ? 'NULL::VARCHAR' : `c${at}`;
  };
  const fields = SALE_FIELDS.map((f) => `${cell(f)} AS ${f}`).join(', ');
  const readCsv = (rejects: boolean) =>
    `read_csv(${sqlString(input.file)}, header = true, auto_detect = false, columns = {${columns}},
      delim = ',', quote = '"', escape = '"', ignore_errors = true${
        rejects
          ? ", store_rejects = true, rejects_table = 'csv_chunk_errors', rejects_scan = 'csv_chunk_scans'"
          : ''
      })`;
  const withIds = layout.positions.id !== undefined;
  // Asked before the insert, while the stored rows are all there is.
  const stored = (
    await conn.runAndReadAll(
      `SELECT coalesce(max(rowid), -1)::BIGINT AS before, ${
        withIds
          ? `(SELECT count(*) FROM (
               SELECT 1 FROM sales WHERE source = $source AND external_id IS NOT NULL LIMIT 1))::BIGINT`
          : '0::BIGINT'
      } AS ids FROM sales`,
      withIds ? { source: input.source } : {},
    )
  ).getRowObjects()[0]!;
  const chunk = { before: BigInt(String(stored.before)), ingestedAt: new Date().toISOString() };

  const fast = await conn.run(
    `INSERT INTO sales SELECT $source, id, ${SALE_FAST_VALUES_SQL}, $importId, $at::TIMESTAMPTZ
     FROM (SELECT ${fields} FROM ${readCsv(false)}) WHERE ${saleFastSql()}`,
    { source: input.source, importId: input.importId, at: chunk.ingestedAt, latest: input.latestDate },
  );
  let accepted = fast.rowsChanged;
  let rejected = 0;
  let received = accepted;
  let empty = 0;
  const slowPass = accepted !== input.records;
  if (slowPass) {
    const slow = await checkSlowRows(tx, input, { readCsv: readCsv(true), fields, at: chunk.ingestedAt });
    received = slow.rows - slow.blank + slow.unreadable;
    empty = slow.blank;
    accepted += slow.accepted;
    rejected += slow.rejected;
  }
  if (received + empty !== input.records) {
    throw new CsvCountMismatchError(
      `DuckDB read ${received + empty} records of the ${input.records} the file check found`,
    );
  }
  const duplicates = withIds
    ? await upsertIds(tx, input.source, {
        before: chunk.before,
        fastRows: fast.rowsChanged,
        slowPass,
        storedIds: Number(stored.ids) > 0,
      })
    : 0;
  if (slowPass) await conn.run('DROP TABLE IF EXISTS temp.csv_slow_rows');
  return { received, accepted, rejected, duplicates, empty };
}

/** Step 2: the rows the fast path refused, through the whole rule set. */
async function checkSlowRows(
  tx: WriteContext,
  input: CsvChunkInput,
  sql: { readCsv: string; fields: string; at: string },
): Promise<{
  rows: number;
  blank: number;
  /** Records DuckDB could not read (placed: two errors on one record are one). */
  unreadable: number;
  accepted: number;
  rejected: number;
}> {
  const { conn } = tx;
  const { layout } = input;
  const cells = layout.header.map((_, i) => `c${i}`);
  const rawJson = `json_object(${layout.header.map((name, i) => `${sqlString(name)}, c${i}`).join(', ')})`;
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_errors');
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_scans');
  // One row per row read, in file order (rowid = place): NULL for a fast row, the cells of the
  // others. Written in parallel like any read_csv into a table, where numbering the rows as they
  // are read (WITH ORDINALITY) makes DuckDB read the file on one thread.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_read_rows AS
     SELECT CASE WHEN NOT ${saleFastSql()} THEN {${cells.map((c) => `'${c}': ${c}`).join(', ')}} END AS other
     FROM (SELECT ${sql.fields}, * FROM ${sql.readCsv})`,
    { latest: input.latestDate },
  );
  const read = (
    await conn.runAndReadAll(
      'SELECT count(*)::BIGINT AS n, coalesce(min(rowid), 0)::BIGINT AS first FROM temp.csv_read_rows',
    )
  ).getRowObjects()[0]!;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_slow_cells AS
     SELECT rowid - $first AS k, ${cells.map((c) => `other.${c} AS ${c}`).join(', ')}
     FROM temp.csv_read_rows WHERE other IS NOT NULL`,
    { first: read.first! },
  );
  await conn.run('DROP TABLE temp.csv_read_rows');
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_slow_rows AS
     SELECT k, blank, valid, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region, id,
       CASE WHEN NOT valid AND NOT blank THEN ${rawJson}::VARCHAR END AS raw,
       ${SALE_FIELDS.map((f) => `e_${f}`).join(', ')}, e_sum
     FROM (${saleRulesSql(
       `SELECT ${sql.fields}, ${cells.map((c) => `${c} IS NULL`).join(' AND ')} AS blank, ${cells.join(', ')}, k
        FROM temp.csv_slow_cells`,
     )})`,
    { latest: input.latestDate },
  );
  await conn.run('DROP TABLE temp.csv_slow_cells');
  const counts = await conn.runAndReadAll(
    `SELECT count(*)::BIGINT AS rows, count(*) FILTER (WHERE blank)::BIGINT AS blank,
            count(*) FILTER (WHERE valid)::BIGINT AS valid, count(*) FILTER (WHERE NOT valid AND NOT blank)::BIGINT AS invalid
     FROM temp.csv_slow_rows`,
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
  const rows = Number(read.n);
  const placement = await input.place({ rows, malformed });

  // In file order, after the fast rows: upsertIds finds a row's place in the file from that.
  const inserted = await conn.run(
    `INSERT INTO sales
     SELECT $source, id, v_date, v_user_id, v_product_name, v_quantity, v_unit_price, v_total_amount, v_region,
            $importId, $at::TIMESTAMPTZ
     FROM temp.csv_slow_rows WHERE valid ORDER BY k`,
    { source: input.source, importId: input.importId, at: sql.at },
  );
  let rejected = 0;
  const now = new Date().toISOString();
  if (Number(c.invalid) > 0) {
    const result = await conn.run(
      `INSERT INTO rejects
       SELECT $1, $2, 'csv', r.k + b.offset, r.raw, ${reasonsJsonSql('r.k + b.offset')}, $3::TIMESTAMPTZ
       FROM (SELECT * FROM temp.csv_slow_rows WHERE NOT valid AND NOT blank) r
       ASOF JOIN (SELECT unnest($4::BIGINT[]) AS k, unnest($5::BIGINT[]) AS offset) b ON r.k >= b.k`,
      [
        input.source,
        input.importId,
        now,
        listValue(placement.lines.starts.map(BigInt)),
        listValue(placement.lines.offsets.map(BigInt)),
      ],
    );
    rejected += result.rowsChanged;
  }
  if (placement.malformed.length > 0) {
    await conn.run(
      `INSERT INTO rejects
       SELECT $1, $2, 'csv', line, raw, to_json([{'index': line, 'path': '', 'message': message}]), $3::TIMESTAMPTZ
       FROM (SELECT unnest($4::INTEGER[]) AS line, unnest($5::VARCHAR[]) AS raw, unnest($6::VARCHAR[]) AS message)`,
      [
        input.source,
        input.importId,
        now,
        listValue(placement.malformed.map((m) => m.line)),
        listValue(placement.malformed.map((m) => JSON.stringify(m.raw))),
        listValue(placement.malformed.map((m) => m.message)),
      ],
    );
    rejected += placement.malformed.length;
  }
  return {
    rows,
    blank: Number(c.blank),
    unreadable: placement.malformed.length,
    accepted: inserted.rowsChanged,
    rejected,
  };
}

/**
 * Step 3: the chunk's rows with an id replace the stored rows of the source with that id, and
 * within the chunk the last occurrence of an id wins (earlier chunks of the same file are stored
 * rows by now). Returns how many rows were replaced or superseded.
 */
async function upsertIds(
  tx: WriteContext,
  source: string,
  chunk: { before: bigint; fastRows: number; slowPass: boolean; storedIds: boolean },
): Promise<number> {
  const at = { before: chunk.before };
  const { conn } = tx;
  // Without comparing strings: distinct hashes mean distinct ids (a collision only costs the
  // exact pass, which partitions by the id itself).
  const repeats = await conn.runAndReadAll(
    `SELECT (count(*) - count(DISTINCT hash(external_id)))::BIGINT AS n FROM sales
     WHERE ${CHUNK_ROWS} AND external_id IS NOT NULL`,
    at,
  );
  let duplicates = 0;
  if (Number(repeats.getRowObjects()[0]!.n) > 0) {
    duplicates += await keepLastOccurrence(tx, chunk.before, chunk.fastRows, chunk.slowPass);
  }
  if (!chunk.storedIds) return duplicates;
  const replaced = await conn.run(
    `DELETE FROM sales WHERE source = $source AND rowid <= $before AND external_id IN (
       SELECT external_id FROM sales WHERE ${CHUNK_ROWS} AND external_id IS NOT NULL)`,
    { ...at, source },
  );
  return duplicates + replaced.rowsChanged;
}

/**
 * An id repeated in the chunk: only its last occurrence in the file stays. The chunk's rows are
 * in sales as the fast rows in file order, then the loosely written valid rows in file order. A
 * fast row's place in the file is its index among the fast rows plus the number of the other rows
 * read (csv_slow_rows, k = place) before it: with the other rows sorted, the j-th (1-based) of
 * them has k - (j - 1) fast rows before it.
 */
async function keepLastOccurrence(
  tx: WriteContext,
  before: bigint,
  fastRows: number,
  slowPass: boolean,
): Promise<number> {
  const placed = slowPass
    ? `WITH chunk AS (
         SELECT rowid AS rid, external_id, row_number() OVER (ORDER BY rowid) - 1 AS n FROM sales WHERE ${CHUNK_ROWS}
       ), steps AS (
         SELECT k - (j - 1) AS t, max(j) AS j
         FROM (SELECT k, row_number() OVER (ORDER BY k) AS j FROM temp.csv_slow_rows) GROUP BY ALL
       ), slow_valid AS (
         SELECT k, row_number() OVER (ORDER BY k) - 1 AS m FROM temp.csv_slow_rows WHERE valid
       )
       SELECT c.rid, c.external_id, c.n + coalesce(s.j, 0) AS place
       FROM chunk c ASOF LEFT JOIN steps s ON c.n >= s.t WHERE c.n < $fast
       UNION ALL
       SELECT c.rid, c.external_id, v.k AS place FROM chunk c JOIN slow_valid v ON c.n - $fast = v.m`
    : `SELECT rowid AS rid, external_id, rowid AS place FROM sales WHERE ${CHUNK_ROWS}`;
  const removed = await tx.conn.run(
    `DELETE FROM sales WHERE rowid IN (
       SELECT rid FROM (
         SELECT rid, row_number() OVER (PARTITION BY external_id ORDER BY place DESC) AS later
         FROM (${placed}) WHERE external_id IS NOT NULL)
       WHERE later > 1)`,
    slowPass ? { before, fast: fastRows } : { before },
  );
  return removed.rowsChanged;
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
