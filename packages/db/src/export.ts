import { stat } from 'node:fs/promises';
import { type ExportFormat, type ExportTable, SALE_KEYS } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * A table written out of DuckDB with COPY ... TO, streamed by DuckDB itself (never held in
 * memory), on a read connection like every report. Columns are listed, never `*`: a column added
 * later (a secret among them) is not exported until someone decides it should be.
 */

export interface ExportOptions {
  table: ExportTable;
  format: ExportFormat;
  /** First day, inclusive (YYYY-MM-DD). */
  from?: string | undefined;
  /** Last day, inclusive (YYYY-MM-DD). */
  to?: string | undefined;
}

export interface ExportCounts {
  rows: number;
  bytes: number;
}

// Timestamps: Parquet keeps its own UTC timestamp type; CSV gets the API's ISO text in UTC, not
// the session time zone DuckDB would print.
const ISO = `'%Y-%m-%dT%H:%M:%S.%gZ'`;
const timestamp = (column: string, format: ExportFormat) =>
  format === 'csv' ? `strftime(${column} AT TIME ZONE 'UTC', ${ISO}) AS ${column}` : column;
const utcDay = (column: string) => `(${column} AT TIME ZONE 'UTC')::DATE`;

interface TableExport {
  columns: (format: ExportFormat) => string;
  /** The DATE expression from..to filter on (qualified: a select alias may shadow the column). */
  day: string;
  order: string;
}

// The sales columns carry the sale fields under the names a CSV import reads (`id` for the
// upstream's id), so an exported file imports as it is: the demo-to-production step.
const TABLES: Record<ExportTable, TableExport> = {
  sales: {
    columns: (f) =>
      `external_id AS id, date, user_id, product_name, quantity, unit_price, total_amount, region,
       source, batch_id, ${timestamp('ingested_at', f)}`,
    day: 'sales.date',
    order: 'sales.date, sales.ingested_at, sales.rowid',
  },
  rejects: {
    columns: (f) => `source, batch_id, kind, row_number, raw, reasons, ${timestamp('rejected_at', f)}`,
    day: utcDay('rejects.rejected_at'),
    order: 'rejects.rejected_at, rejects.rowid',
  },
  // Never password_hash: a user export is names, addresses and roles only.
  users: {
    columns: (f) =>
      `username, email, role, must_change_password, ${timestamp('created_at', f)}, ${timestamp('updated_at', f)}`,
    day: utcDay('users.created_at'),
    order: 'users.username',
  },
};

/** The column names an export of `table` has, in order (for docs and tests). */
export const EXPORT_COLUMNS: Record<ExportTable, readonly string[]> = {
  // Named as a CSV import reads them, so an export imports elsewhere as it is.
  sales: [...SALE_KEYS, 'source', 'batch_id', 'ingested_at'],
  rejects: ['source', 'batch_id', 'kind', 'row_number', 'raw', 'reasons', 'rejected_at'],
  users: ['username', 'email', 'role', 'must_change_password', 'created_at', 'updated_at'],
};

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Writes `options.table` to `path` (which must not exist yet) and says how many rows and bytes.
 * An empty result is a CSV with only its header, or a valid Parquet file with no rows.
 */
export async function exportTable(
  conn: DuckDBConnection,
  options: ExportOptions,
  path: string,
): Promise<ExportCounts> {
  const spec = TABLES[options.table];
  const target =
    options.format === 'csv' ? '(FORMAT csv, HEADER true)' : '(FORMAT parquet, COMPRESSION zstd)';
  const result = await conn.runAndReadAll(
    `COPY (
       SELECT ${spec.columns(options.format)} FROM ${options.table}
       WHERE ($1::DATE IS NULL OR ${spec.day} >= $1::DATE) AND ($2::DATE IS NULL OR ${spec.day} <= $2::DATE)
       ORDER BY ${spec.order}
     ) TO ${sqlString(path)} ${target}`,
    [options.from ?? null, options.to ?? null],
  );
  const rows = Number(result.getRowObjects()[0]?.Count ?? 0);
  return { rows, bytes: (await stat(path)).size };
}
