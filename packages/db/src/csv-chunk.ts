import { upsertChunkIds } from './csv-chunk-ids.js';
import { checkOtherRows, fieldsSql, insertSetAside, sqlString } from './csv-chunk-rejects.js';
import {
  type ChunkPlacement,
  type ChunkRead,
  type ChunkResult,
  type CsvChunkInput,
  CsvCountMismatchError,
} from './csv-chunk-types.js';
import { SALE_FAST_VALUES, saleFastSql } from './sale-rules-sql.js';
import type { WriteContext } from './writer.js';

/**
 * One chunk file of a CSV import, in the caller's transaction, in two calls the worker makes in
 * turn (the data flows one way: the worker never gets called back from here):
 *
 * 1. readCsvChunk: DuckDB reads the chunk once (`read_csv`, every cell as text, in parallel)
 *    into a temporary table in file order (rowid = place among the rows read). Each row is marked
 *    by the rule set's strict fast path (`saleFastSql`), its stored values cast on the way; the
 *    cells are kept only for the rows the fast path did not accept. The records DuckDB could not
 *    split into the header's columns come from its rejects table, from the same pass. The worker
 *    then places the rows on the lines of the file (it knows where every record starts).
 * 2. storeCsvChunk: the fast rows go to `sales` (a copy of typed values, no second read of the
 *    file); the whole rule set (`saleRulesSql`) runs over the few other rows (valid ones written
 *    loosely, " 7 ", "7.0", are stored normalised, the rest quarantined with line and reasons);
 *    the unreadable records are quarantined; rows with an id upsert by (source, id).
 *
 * Measured on 1M rows with 0.1 % bad (bench/csv-bench.mjs): reading the chunk again for the rows
 * the fast path refused cost ~0.45 s; the table read once costs about what that first read did.
 * A typed read (DATE, BIGINT, DECIMAL columns) cannot replace the text cells: DuckDB's casts take
 * "+5", "1e3", "1_000", ".5" and round "7.5" to 8, all of which the rule set refuses, and only the
 * text tells them apart (docs/architecture.md, CSV import).
 */

/** The chunk's rows as read, in file order; dropped by storeCsvChunk. */
const READ_TABLE = 'temp.csv_chunk_read';

/** Step 1: DuckDB reads the chunk file once; returns how many rows it read and which it could not. */
export async function readCsvChunk(tx: WriteContext, input: CsvChunkInput): Promise<ChunkRead> {
  if (input.records === 0) return { rows: 0, malformed: [] };
  const { conn } = tx;
  const cells = input.layout.header.map((_, i) => `c${i}`);
  const columns = cells.map((c) => `'${c}': 'VARCHAR'`).join(', ');
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_errors');
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_scans');
  // Every row keeps its stored values as the fast path casts them (used for the fast rows only);
  // a row the fast path did not accept keeps its cells too.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_chunk_read AS
     SELECT fast, id, ${SALE_FAST_VALUES.map((v, i) => `${v} AS f${i}`).join(', ')},
       CASE WHEN NOT fast THEN {${cells.map((c) => `'${c}': ${c}`).join(', ')}} END AS other
     FROM (SELECT ${saleFastSql()} AS fast, * FROM (
       SELECT ${fieldsSql(input.layout)}, ${cells.join(', ')}
       FROM read_csv(${sqlString(input.file)}, header = true, auto_detect = false, columns = {${columns}},
         delim = ',', quote = '"', escape = '"', ignore_errors = true, store_rejects = true,
         rejects_table = 'csv_chunk_errors', rejects_scan = 'csv_chunk_scans')))`,
    { latest: input.latestDate },
  );
  const read = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${READ_TABLE}`);
  const errors = await conn.runAndReadAll(
    // One row per error: a record missing several columns has one per column.
    `SELECT line_byte_position::BIGINT AS at, first(error_type::VARCHAR ORDER BY column_idx) AS type,
            first(error_message ORDER BY column_idx) AS message, first(csv_line) AS text
     FROM temp.csv_chunk_errors GROUP BY line_byte_position ORDER BY line_byte_position`,
  );
  return {
    rows: Number(read.getRowObjects()[0]!.n),
    malformed: errors.getRowObjects().map((row) => ({
      bytePosition: Number(row.at),
      text: String(row.text ?? ''),
      message: malformedMessage(String(row.type), String(row.message)),
    })),
  };
}

/**
 * Step 2: writes the chunk read by readCsvChunk (rows placed by the worker): valid rows to sales
 * (upserting ids), the others to rejects with the set-aside records. Every record is accounted
 * for, or the chunk fails with CsvCountMismatchError.
 */
export async function storeCsvChunk(
  tx: WriteContext,
  input: CsvChunkInput,
  placement: ChunkPlacement,
): Promise<ChunkResult> {
  const setAside = await insertSetAside(tx, input);
  if (input.records === 0) {
    return { received: setAside, accepted: 0, rejected: setAside, duplicates: 0, empty: 0 };
  }
  const read = await storeRows(tx, input, placement);
  const result = { ...read, received: read.received + setAside, rejected: read.rejected + setAside };
  if (result.received !== result.accepted + result.rejected) {
    throw new CsvCountMismatchError(
      `${result.received} records received but ${result.accepted} accepted and ${result.rejected} rejected`,
    );
  }
  return result;
}

async function storeRows(tx: WriteContext, input: CsvChunkInput, placement: ChunkPlacement) {
  const { conn } = tx;
  const withIds = input.layout.positions.id !== undefined;
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
  const before = BigInt(String(stored.before));
  const at = new Date().toISOString();
  // In file order (a table scan keeps it): the upsert finds a row's place in the file from that.
  const fast = await conn.run(
    `INSERT INTO sales SELECT $source, id, f0, f1, f2, f3, f4, f5, f6, $importId, $at::TIMESTAMPTZ
     FROM ${READ_TABLE} WHERE fast`,
    { source: input.source, importId: input.importId, at },
  );
  const counts = (
    await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${READ_TABLE} WHERE NOT fast`)
  ).getRowObjects()[0]!;
  let accepted = fast.rowsChanged;
  let received = accepted;
  let rejected = 0;
  let empty = 0;
  const others = Number(counts.n) > 0 || placement.malformed.length > 0;
  if (others) {
    const slow = await checkOtherRows(tx, input, placement, at);
    received += slow.rows - slow.blank + placement.malformed.length;
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
    ? await upsertChunkIds(tx, input.source, {
        before,
        fastRows: fast.rowsChanged,
        slowPass: others,
        storedIds: Number(stored.ids) > 0,
      })
    : 0;
  await conn.run(`DROP TABLE IF EXISTS ${READ_TABLE}`);
  await conn.run('DROP TABLE IF EXISTS temp.csv_slow_rows');
  return { received, accepted, rejected, duplicates, empty };
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
