import { upsertChunkIds } from './csv-chunk-ids.js';
import { checkOtherRows, fieldsSql, insertSetAside, sqlString } from './csv-chunk-rejects.js';
import {
  type ChunkPlacement,
  type ChunkRead,
  type ChunkResult,
  type CsvChunkInput,
  CsvCountMismatchError,
} from './csv-chunk-types.js';
import { SALE_FAST_VALUES_SQL, saleFastSql } from './sale-rules-sql.js';
import { addToRollup } from './sales-rollup.js';
import type { WriteContext } from './writer.js';

/**
 * One chunk file of a CSV import, in the caller's transaction, in two calls the worker makes in
 * turn (the data flows one way: nothing here calls back into the worker):
 *
 * 1. readCsvChunk: DuckDB reads the chunk (`read_csv`, every cell as text) and inserts the rows
 *    the strict fast path accepts (`saleFastSql`) straight into `sales`: one streaming statement,
 *    the way `read_csv` into a table runs. On an ordinary file that is nearly every row. Only when
 *    fewer rows went in than the chunk has records, it reads the chunk again into a temporary
 *    table in file order (the cells of the other rows), with the records it could not read. The
 *    worker then places the rows on the file's lines (it knows where every record starts).
 * 2. storeCsvChunk: the whole rule set (`saleRulesSql`) runs over those few rows (valid ones
 *    written loosely, " 7 ", "7.0", are stored normalised, the rest quarantined with their line
 *    and reasons), the unreadable and set-aside records are quarantined, rows with an id upsert
 *    by (source, id), and the chunk's rows (rowid above the largest before it) go into the daily
 *    rollup.
 *
 * Measured (bench/csv-bench.mjs, apps/sync-worker/src/sales-sync/README.md): reading the chunk
 * once into a temporary table of every row instead of the second read was slower here (scanning
 * a temporary table the transaction wrote is slow), so the second read stays, paid only by
 * chunks with rows the fast path refused. A typed read (DATE, BIGINT, DECIMAL columns) cannot
 * replace the text cells: DuckDB's casts take "+5", "1e3", "1_000", ".5" and round "7.5" to 8,
 * all of which the rule set refuses, and only the text tells them apart.
 */

/**
 * Step 1: DuckDB reads the chunk file: the rows the strict fast path accepts go straight into
 * sales; when some did not, the chunk is read again into temp.csv_read_rows (rowid = place among
 * the rows read: NULL for a fast row, the cells of any other), with the records it could not read
 * from its rejects table. Returns what the worker needs to place the rows.
 */
export async function readCsvChunk(tx: WriteContext, input: CsvChunkInput): Promise<ChunkRead> {
  const { conn } = tx;
  const { layout } = input;
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
  const read: ChunkRead = {
    rows: 0,
    malformed: [],
    fastRows: 0,
    slowPass: false,
    before: BigInt(String(stored.before)),
    storedIds: Number(stored.ids) > 0,
  };
  if (input.records === 0) return read;
  const fast = await conn.run(
    `INSERT INTO sales SELECT $source, id, ${SALE_FAST_VALUES_SQL}, $importId, $at::TIMESTAMPTZ
     FROM (SELECT ${fieldsSql(layout)}${refusedColumn(input)} FROM ${input.cells?.from ?? readCsvSql(input, false)}) WHERE ${fastSql(input)}`,
    {
      source: input.source,
      importId: input.importId,
      at: new Date().toISOString(),
      latest: input.latestDate,
    },
  );
  read.fastRows = fast.rowsChanged;
  read.rows = fast.rowsChanged;
  if (fast.rowsChanged === input.records) return read;
  read.slowPass = true;
  const cells = layout.header.map((_, i) => `c${i}`);
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_errors');
  await conn.run('DROP TABLE IF EXISTS temp.csv_chunk_scans');
  // One row per row read, in file order (rowid = place): NULL for a fast row, the cells of the
  // others. Written in parallel like any read_csv into a table, where numbering the rows as they
  // are read (WITH ORDINALITY) makes DuckDB read the file on one thread.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE csv_read_rows AS
     SELECT CASE WHEN NOT ${fastSql(input)} THEN {${cells.map((c) => `'${c}': ${c}`).join(', ')}} END AS other
     FROM (SELECT ${fieldsSql(layout)}${refusedColumn(input)}, * FROM ${input.cells?.from ?? readCsvSql(input, true)})`,
    { latest: input.latestDate },
  );
  read.rows = Number(
    (await conn.runAndReadAll('SELECT count(*)::BIGINT AS n FROM temp.csv_read_rows')).getRowObjects()[0]!.n,
  );
  // Other readers read every record: none is left unread.
  if (input.cells) return read;
  const errors = await conn.runAndReadAll(
    // One row per error: a record missing several columns has one per column.
    `SELECT line_byte_position::BIGINT AS at, first(error_type::VARCHAR ORDER BY column_idx) AS type,
            first(error_message ORDER BY column_idx) AS message, first(csv_line) AS text
     FROM temp.csv_chunk_errors GROUP BY line_byte_position ORDER BY line_byte_position`,
  );
  read.malformed = errors.getRowObjects().map((row) => ({
    bytePosition: Number(row.at),
    text: String(row.text ?? ''),
    message: malformedMessage(String(row.type), String(row.message)),
  }));
  return read;
}

/** The fast path, and for a reader that refuses rows (NDJSON), not refused. */
function fastSql(input: CsvChunkInput): string {
  const refused = input.cells?.refusedCell;
  return refused === undefined ? saleFastSql() : `(${saleFastSql()} AND refused IS NULL)`;
}

function refusedColumn(input: CsvChunkInput): string {
  const refused = input.cells?.refusedCell;
  return refused === undefined ? '' : `, c${refused} AS refused`;
}

function readCsvSql(input: CsvChunkInput, rejects: boolean): string {
  const columns = input.layout.header.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  return `read_csv(${sqlString(input.file)}, header = true, auto_detect = false, columns = {${columns}},
    delim = ',', quote = '"', escape = '"', ignore_errors = true${
      rejects
        ? ", store_rejects = true, rejects_table = 'csv_chunk_errors', rejects_scan = 'csv_chunk_scans'"
        : ''
    })`;
}

/**
 * Step 2: writes the rest of the chunk read by readCsvChunk (its rows placed by the worker): the
 * other rows through the whole rule set, the rejects with the set-aside records, the upsert of
 * ids. Every record is accounted for, or the chunk fails with CsvCountMismatchError.
 */
export async function storeCsvChunk(
  tx: WriteContext,
  input: CsvChunkInput,
  read: ChunkRead,
  placement: ChunkPlacement,
): Promise<ChunkResult> {
  const setAside = await insertSetAside(tx, input);
  if (input.records === 0) {
    return { received: setAside, accepted: 0, rejected: setAside, duplicates: 0, empty: 0 };
  }
  const rows = await storeRows(tx, input, read, placement);
  const result = { ...rows, received: rows.received + setAside, rejected: rows.rejected + setAside };
  if (result.received !== result.accepted + result.rejected) {
    throw new CsvCountMismatchError(
      `${result.received} records received but ${result.accepted} accepted and ${result.rejected} rejected`,
    );
  }
  return result;
}

async function storeRows(tx: WriteContext, input: CsvChunkInput, read: ChunkRead, placement: ChunkPlacement) {
  let accepted = read.fastRows;
  let received = accepted;
  let rejected = 0;
  let empty = 0;
  if (read.slowPass) {
    const slow = await checkOtherRows(tx, input, placement, new Date().toISOString());
    received = read.rows - slow.blank + placement.malformed.length;
    empty = slow.blank;
    accepted += slow.accepted;
    rejected += slow.rejected;
  }
  if (received + empty !== input.records) {
    throw new CsvCountMismatchError(
      `DuckDB read ${received + empty} records of the ${input.records} the file check found`,
    );
  }
  const duplicates =
    input.layout.positions.id !== undefined
      ? await upsertChunkIds(tx, input.source, {
          before: read.before,
          fastRows: read.fastRows,
          slowPass: read.slowPass,
          storedIds: read.storedIds,
        })
      : 0;
  await addToRollup(tx.conn, 'SELECT * FROM sales WHERE rowid > $before', { before: read.before });
  await tx.conn.run('DROP TABLE IF EXISTS temp.csv_read_rows');
  await tx.conn.run('DROP TABLE IF EXISTS temp.csv_slow_rows');
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
