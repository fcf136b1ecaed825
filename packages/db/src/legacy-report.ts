import { MIGRATION_SOURCE } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type LegacyTable, legacyFieldSql, legacyTableSql } from './legacy-source.js';
import type { WriteContext } from './writer.js';

/** Rows and revenue of one month (revenue an exact decimal text with 2 places). */
export interface MonthFigures {
  rows: number;
  revenue: string;
}

const INVALID_MONTH = 'invalid date';
const monthOf = (text: string) =>
  `coalesce(strftime(TRY_CAST(${text} AS DATE), '%Y-%m'), '${INVALID_MONTH}')`;
const revenueOf = (text: string) =>
  `coalesce(sum(TRY_CAST(${text} AS DECIMAL(18,2))), 0)::DECIMAL(18,2)::VARCHAR`;

async function figures(conn: DuckDBConnection, sql: string, params: Record<string, string> = {}) {
  const reader = await conn.runAndReadAll(sql, params);
  const out = new Map<string, MonthFigures>();
  for (const row of reader.getRowObjects()) {
    out.set(String(row.month), { rows: Number(row.n), revenue: String(row.revenue) });
  }
  return out;
}

/** The old sales per month of their date as the old file has it (every row, valid or not). */
export function legacyMonths(conn: DuckDBConnection, t: LegacyTable): Promise<Map<string, MonthFigures>> {
  return figures(
    conn,
    `SELECT ${monthOf(legacyFieldSql(t, 'date'))} AS month, count(*)::BIGINT AS n,
            ${revenueOf(legacyFieldSql(t, 'total_amount'))} AS revenue
     FROM ${legacyTableSql(t)} o GROUP BY ALL`,
  );
}

/** What the migration stored, per month. */
export function migratedMonths(conn: DuckDBConnection, batchId: string): Promise<Map<string, MonthFigures>> {
  return figures(
    conn,
    `SELECT strftime(date, '%Y-%m') AS month, count(*)::BIGINT AS n, ${revenueOf('total_amount')} AS revenue
     FROM sales WHERE source = '${MIGRATION_SOURCE}' AND batch_id = $batch GROUP BY ALL`,
    { batch: batchId },
  );
}

/** What the migration quarantined, per month of the old row's date (read back from its raw JSON). */
export function rejectedMonths(
  conn: DuckDBConnection,
  batchId: string,
  t: LegacyTable,
): Promise<Map<string, MonthFigures>> {
  const cell = (field: string) => `json_extract_string(raw, ${jsonPath(t.columns[field] ?? field)})`;
  return figures(
    conn,
    `SELECT ${monthOf(cell('date'))} AS month, count(*)::BIGINT AS n, ${revenueOf(cell('total_amount'))} AS revenue
     FROM rejects WHERE source = '${MIGRATION_SOURCE}' AND batch_id = $batch GROUP BY ALL`,
    { batch: batchId },
  );
}

/** Per month of the old date: which fields the rejected rows failed on, and how often. */
export async function rejectReasonsByMonth(
  conn: DuckDBConnection,
  batchId: string,
  t: LegacyTable,
): Promise<Map<string, { path: string; rows: number }[]>> {
  const reader = await conn.runAndReadAll(
    `SELECT month, path, count(*)::BIGINT AS n FROM (
       SELECT ${monthOf(`json_extract_string(raw, ${jsonPath(t.columns.date ?? 'date')})`)} AS month,
              unnest(list_distinct(json_extract_string(reasons, '$[*].path'))) AS path
       FROM rejects WHERE source = '${MIGRATION_SOURCE}' AND batch_id = $batch)
     GROUP BY ALL ORDER BY month, n DESC, path`,
    { batch: batchId },
  );
  const out = new Map<string, { path: string; rows: number }[]>();
  for (const row of reader.getRowObjects()) {
    const month = String(row.month);
    out.set(month, [...(out.get(month) ?? []), { path: String(row.path), rows: Number(row.n) }]);
  }
  return out;
}

const jsonPath = (key: string) => `'$."${key.replaceAll("'", "''").replaceAll('"', '\\"')}"'`;

/** The ledger of a migration per table: counts summed over its chunks, from every run. */
export async function legacyLedger(
  conn: DuckDBConnection,
  migrationId: string,
): Promise<
  Map<string, { chunks: number; read: number; stored: number; rejected: number; existing: number }>
> {
  const reader = await conn.runAndReadAll(
    `SELECT table_name, count(*)::BIGINT AS chunks, sum(read)::BIGINT AS read, sum(stored)::BIGINT AS stored,
            sum(rejected)::BIGINT AS rejected, sum(existing)::BIGINT AS existing
     FROM legacy_migration_chunks WHERE migration_id = $1 GROUP BY ALL`,
    [migrationId],
  );
  const out = new Map();
  for (const row of reader.getRowObjects()) {
    out.set(String(row.table_name), {
      chunks: Number(row.chunks),
      read: Number(row.read),
      stored: Number(row.stored),
      rejected: Number(row.rejected),
      existing: Number(row.existing),
    });
  }
  return out;
}

/** Users this migration stored: how many kept a hash, how many must set a password. */
export async function migratedUserPasswords(
  conn: DuckDBConnection,
  migrationId: string,
): Promise<{ keptHashes: number; mustChangePassword: number }> {
  const reader = await conn.runAndReadAll(
    `SELECT count(*) FILTER (WHERE password_hash <> '')::BIGINT AS kept,
            count(*) FILTER (WHERE password_hash = '')::BIGINT AS flagged
     FROM users WHERE created_by_job = $1`,
    [migrationId],
  );
  const row = reader.getRowObjects()[0]!;
  return { keptHashes: Number(row.kept), mustChangePassword: Number(row.flagged) };
}

/** The report of a finished run, stored beside the data it describes. */
export async function recordLegacyMigration(
  tx: WriteContext,
  run: { migrationId: string; jobId: string; fileName: string; sha256: string; report: string },
): Promise<void> {
  await tx.conn.run(`INSERT INTO legacy_migrations VALUES ($1, $2, $3, $4, $5, $6::TIMESTAMPTZ)`, [
    run.migrationId,
    run.jobId,
    run.fileName,
    run.sha256,
    run.report,
    new Date().toISOString(),
  ]);
}
