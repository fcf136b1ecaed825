import { DuckDBInstance } from '@duckdb/node-api';
import { sqlString } from './csv-chunk-rejects.js';
import type { FileCells } from './csv-chunk-types.js';
import { SALE_FIELDS } from './sale-rules-sql.js';

/**
 * Readers of sales files other than CSV (Parquet, NDJSON) for the CSV import's chunks
 * (csv-chunk.ts): each yields the cells c0..c<n> as text, one row per record in file order, so
 * the same rule set, quarantine, upsert and ledger apply; only the reading step differs.
 */

export interface ParquetColumn {
  name: string;
  /** DuckDB's type of the column (VARCHAR, BIGINT, DECIMAL(18,2), DATE...). */
  type: string;
}

/** The rows and columns of a Parquet file, read from its footer (an in-memory DuckDB, no writer). */
export async function describeParquetFile(file: string): Promise<{ rows: number; columns: ParquetColumn[] }> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const columns = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`))
      .getRowObjects()
      .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    const rows = (
      await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(file)})`)
    ).getRowObjects()[0]!.n;
    return { rows: Number(rows), columns };
  } finally {
    conn.disconnectSync();
    db.closeSync();
  }
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Rows [from, to) of a Parquet file, the named columns as text cells c0..: a typed value becomes
 * its text (DECIMAL 12.50 is "12.50", DOUBLE 7.5 "7.5", DATE "2026-01-31") and goes through the
 * same rules as a CSV cell. A filter on file_row_number skips the other row groups (500k of 1M
 * rows: 0.24 s against 1.7 s for the whole file here).
 */
export function parquetCells(file: string, columns: readonly string[], from: number, to: number): FileCells {
  const cells = columns.map((name, i) => `CAST(${ident(name)} AS VARCHAR) AS c${i}`).join(', ');
  return {
    from: `(SELECT ${cells} FROM read_parquet(${sqlString(file)}, file_row_number = true)
      WHERE file_row_number >= ${from} AND file_row_number < ${to})`,
  };
}

/** The cells of an NDJSON chunk: the sale fields c0..c7, the line c8, the reasons it is refused c9. */
export const NDJSON_HEADER: readonly string[] = [...SALE_FIELDS, 'line', 'refused'];
const LINE = SALE_FIELDS.length;
const REFUSED = LINE + 1;
/** Fields that must be JSON strings (a number or object there is refused, as the JSON path does). */
const STRING_FIELDS: Record<string, string> = {
  id: 'id must be a string of 1 to 128 characters',
  product_name: 'product_name must be a string',
  region: 'region must be a string',
};

const INTEGER_FIELDS = ['user_id', 'quantity'];

/**
 * The value of field i as the JSON path sees it, from `j` (the fields as JSON text, from one parse
 * of the line): a string unquoted, null as NULL, a number or any other value as its JSON text.
 */
const kind = (i: number) => `left(j[${i}], 1)`;
const isNumber = (i: number) => `${kind(i)} IN ('-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9')`;
const valueText = (i: number) =>
  `CASE ${kind(i)} WHEN '"' THEN json_extract_string(j[${i}], '$') WHEN 'n' THEN NULL ELSE j[${i}] END`;

/**
 * A JSON number that is a whole number is an integer to the JSON path, whatever its size or sign
 * (-1 is out of range, not "not an integer"; 1e21 too large): written as plain digits (0 for any
 * below 1, which the rules put out of range the same way), not as DuckDB prints a double (1e+21).
 */
function integerText(i: number): string {
  const x = `TRY_CAST(j[${i}] AS DOUBLE)`;
  return `CASE WHEN ${isNumber(i)} AND ${x} = floor(${x})
      THEN CASE WHEN ${x} < 1 THEN '0' WHEN regexp_matches(j[${i}], '[.eE]') THEN printf('%.0f', ${x}) ELSE j[${i}] END
    ELSE ${valueText(i)} END`;
}

/**
 * An NDJSON chunk file, one line a row (read_csv of one column: no quote, a separator no JSON
 * text holds raw; reading the file with read_text and splitting it took minutes per million
 * lines here, this 1.3 s). Each line is parsed twice: json_valid, then json_extract of every
 * field at once (DuckDB's JSON functions throw on invalid JSON inside a query, so json_valid
 * guards the other; a CASE only evaluates the branch its rows take); each JSON function call
 * parses the whole line again, so asking json_type per field as well cost a third of the import.
 * Values are taken as the JSON path takes them: a number as its text ("12.5"; 1e3 as "1000.0"),
 * a string as it is; a value of another JSON type in a field that must be a string is refused
 * with the JSON path's words. Blank lines are rows of no cells (skipped, counted).
 */
export function ndjsonCells(file: string): FileCells {
  const paths = `[${SALE_FIELDS.map((f) => `'$.${f}'`).join(', ')}]`;
  const field = (f: string, i: number) =>
    f in STRING_FIELDS
      ? `CASE WHEN obj AND coalesce(${kind(i + 1)} IN ('"', 'n'), true) THEN ${valueText(i + 1)} END AS c${i}`
      : INTEGER_FIELDS.includes(f)
        ? `CASE WHEN obj THEN ${integerText(i + 1)} END AS c${i}`
        : `CASE WHEN obj THEN ${valueText(i + 1)} END AS c${i}`;
  const wrongType = Object.entries(STRING_FIELDS).map(([f, message]) => {
    const i = SALE_FIELDS.indexOf(f as (typeof SALE_FIELDS)[number]) + 1;
    return `CASE WHEN ${kind(i)} NOT IN ('"', 'n') THEN {'path': '${f}', 'message': '${message}'} END`;
  });
  const refused = `CASE WHEN line IS NULL THEN NULL
      WHEN NOT valid THEN '[{"path":"","message":"the line is not valid JSON"}]'
      WHEN NOT obj THEN '[{"path":"","message":"record must be a JSON object"}]'
      ELSE nullif(to_json(list_filter([${wrongType.join(', ')}], x -> x IS NOT NULL))::VARCHAR, '[]') END`;
  return {
    from: `(SELECT ${SALE_FIELDS.map(field).join(', ')}, line AS c${LINE}, ${refused} AS c${REFUSED}
      FROM (SELECT *, CASE WHEN obj THEN json_extract(line, ${paths})::VARCHAR[] END AS j
        FROM (SELECT line, valid, valid AND starts_with(ltrim(line, E' \\t\\r'), '{') AS obj
          FROM (SELECT line, CASE WHEN line IS NULL THEN false ELSE json_valid(line) END AS valid
            FROM (SELECT CASE WHEN trim(line, E' \\t\\r') <> '' THEN line END AS line
              FROM read_csv(${sqlString(file)}, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
                delim = '\\x1e', quote = '', escape = '', strict_mode = false, new_line = '\\n'))))))`,
    raw: `CASE WHEN c${REFUSED} LIKE '[{"path":"",%' THEN to_json(c${LINE})::VARCHAR ELSE c${LINE} END`,
    refusedCell: REFUSED,
  };
}
