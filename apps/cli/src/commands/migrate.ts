import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { MigrationReport } from '@datasync/schemas';
import { type Command, parse, runJob, UsageError } from '../command.js';
import { printKeyValues, printTable } from '../output.js';

/** The verification report: per table, then per month before and after, then what differs and why. */
export function printMigrationReport(value: unknown): void {
  const parsed = MigrationReport.safeParse(value);
  if (!parsed.success) {
    printKeyValues((value ?? {}) as Record<string, unknown>);
    return;
  }
  const r = parsed.data;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`migration ${r.migrationId} of ${r.file}${r.dryRun ? ' (DRY RUN: nothing was written)' : ''}`);
  out();
  printTable(
    r.tables.map((t) => ({
      table: t.table,
      'old table': t.oldTable ?? '(none)',
      read: t.read,
      stored: t.stored,
      rejected: t.rejected,
      existing: t.existing,
      chunks: t.chunksSkipped > 0 ? `${t.chunks} (${t.chunksSkipped} done before)` : t.chunks,
    })),
  );
  out();
  out(
    `users: ${r.users.keptHashes} kept their password hash, ${r.users.mustChangePassword} must set a password`,
  );
  out();
  printTable(
    r.months.map((m) => ({
      month: m.month,
      'old rows': m.before.rows,
      'old revenue': m.before.revenue,
      stored: m.after.rows,
      'stored revenue': m.after.revenue,
      rejected: m.rejected.rows,
      'rejected revenue': m.rejected.revenue,
    })),
  );
  out();
  if (r.differences.length === 0) out('differences: none (every old row is stored as it was)');
  else {
    out('differences:');
    for (const d of r.differences) out(`  ${d}`);
  }
  const rejected = r.tables.some((t) => t.rejected > 0);
  if (rejected)
    out(`rejected rows: ${r.rejectsBatchIds.map((b) => `GET /v1/rejects?batchId=${b}`).join(', ')}`);
  out(`took ${(r.durationMs / 1000).toFixed(1)} s`);
}

/** `datasync migrate --from OLD.duckdb`: the old script's database into this one (docs/operations.md). */
export const migrateCommand: Command = {
  name: 'migrate',
  usage: 'datasync migrate --from OLD.duckdb [--dry-run] [--map FIELD=OLD_COLUMN]...',
  summary: "copy the old script's sales and users into datasync, with a verification report",
  async run(ctx) {
    const { values } = parse(
      ctx.argv,
      {
        from: { type: 'string' },
        'dry-run': { type: 'boolean' },
        map: { type: 'string', multiple: true },
      },
      false,
    );
    const from = values.from;
    if (typeof from !== 'string' || from === '') {
      throw new UsageError(
        '--from OLD.duckdb is required: the old database file, moved aside (docs/operations.md)',
      );
    }
    if (!existsSync(from) || !statSync(from).isFile()) throw new UsageError(`--from ${from}: no such file`);
    const query = new URLSearchParams({ name: basename(from) });
    if (values['dry-run']) query.set('dryRun', 'true');
    for (const entry of (values.map as string[] | undefined) ?? []) query.append('map', entry);
    return runJob(
      ctx,
      { path: `/v1/migrations?${query}`, file: from, contentType: 'application/octet-stream' },
      printMigrationReport,
    );
  },
};
