import {
  type LegacyTable,
  legacyLedger,
  legacyMonths,
  type MonthFigures,
  migratedMonths,
  migratedUserPasswords,
  rejectedMonths,
  rejectReasonsByMonth,
} from '@datasync/db';
import type { MigrationReport } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';

export interface ReportContext {
  migrationId: string;
  file: string;
  sha256: string;
  dryRun: boolean;
  tables: LegacyTable[];
  batchIds: { sales: string; users: string };
  chunks: { sales: { planned: number; skipped: number }; users: { planned: number; skipped: number } };
  started: number;
}

const ZERO: MonthFigures = { rows: 0, revenue: '0.00' };

/**
 * The verification report: per table what was read, stored and rejected (over every run of this
 * file, from the ledger), and per month the old rows and revenue beside what is stored now, each
 * difference explained by the rows quarantined for it.
 */
export async function buildMigrationReport(
  conn: DuckDBConnection,
  ctx: ReportContext,
): Promise<MigrationReport> {
  const ledger = await legacyLedger(conn, ctx.migrationId);
  const tables = ctx.tables.map((t) => {
    const done = ledger.get(t.table);
    return {
      table: t.table,
      oldTable: t.oldTable,
      read: t.rows,
      stored: done?.stored ?? 0,
      rejected: done?.rejected ?? 0,
      existing: done?.existing ?? 0,
      chunks: ctx.chunks[t.table].planned,
      chunksSkipped: ctx.chunks[t.table].skipped,
    };
  });
  const sales = ctx.tables.find((t) => t.table === 'sales')!;
  const months: MigrationReport['months'] = [];
  const differences: string[] = [];
  if (sales.oldTable) {
    const before = await legacyMonths(conn, sales);
    const after = await migratedMonths(conn, ctx.batchIds.sales);
    const rejected = await rejectedMonths(conn, ctx.batchIds.sales, sales);
    const reasons = await rejectReasonsByMonth(conn, ctx.batchIds.sales, sales);
    const keys = [...new Set([...before.keys(), ...after.keys(), ...rejected.keys()])].sort();
    for (const month of keys) {
      const row = {
        month,
        before: before.get(month) ?? ZERO,
        after: after.get(month) ?? ZERO,
        rejected: rejected.get(month) ?? ZERO,
      };
      months.push(row);
      const difference = explainMonth(row, reasons.get(month) ?? []);
      if (difference) differences.push(difference);
    }
  }
  const users = tables.find((t) => t.table === 'users')!;
  const accounted = users.stored + users.rejected + users.existing;
  if (users.read !== accounted && ctx.chunks.users.planned > 0 && ledger.has('users')) {
    differences.push(
      `users: ${users.read} old rows but ${accounted} accounted for (stored, rejected, existing): the old table changed since the first run`,
    );
  }
  if (users.existing > 0) {
    differences.push(
      `users: ${users.existing} old users already existed here (same username) and were left as they were`,
    );
  }
  if (users.rejected > 0) {
    differences.push(
      `users: ${users.rejected} old users rejected (GET /v1/rejects?batchId=${ctx.batchIds.users})`,
    );
  }
  const passwords = await migratedUserPasswords(conn, ctx.migrationId);
  if (passwords.mustChangePassword > 0) {
    differences.push(
      `users: ${passwords.mustChangePassword} imported without a password (the old value was no argon2 or bcrypt hash) and must set one (must_change_password)`,
    );
  }
  return {
    migrationId: ctx.migrationId,
    file: ctx.file,
    sha256: ctx.sha256,
    dryRun: ctx.dryRun,
    tables,
    users: passwords,
    months,
    differences,
    rejectsBatchIds: [ctx.batchIds.sales, ctx.batchIds.users],
    durationMs: Math.round(performance.now() - ctx.started),
  };
}

function explainMonth(
  m: MigrationReport['months'][number],
  reasons: { path: string; rows: number }[],
): string | null {
  if (m.before.rows === m.after.rows && m.before.revenue === m.after.revenue) return null;
  const missing = m.before.rows - m.after.rows;
  const why =
    m.rejected.rows > 0
      ? `${m.rejected.rows} rejected (${reasons.map((r) => `${r.path || 'row'}: ${r.rows}`).join(', ')}; revenue ${m.rejected.revenue})`
      : 'none rejected';
  const unexplained = missing - m.rejected.rows;
  return `${m.month}: ${m.before.rows} old rows (revenue ${m.before.revenue}), ${m.after.rows} stored (revenue ${m.after.revenue}): ${why}${
    unexplained !== 0 ? `; ${unexplained} rows NOT explained by rejects` : ''
  }`;
}
