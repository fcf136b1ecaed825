import { writeFileSync } from 'node:fs';
import { type JobStatus, UserImportResult } from '@datasync/schemas';
import { type Command, parse, runJob, UsageError } from '../command.js';
import { printKeyValues, printTable } from '../output.js';

/** Exit codes: 0 every row imported or already there, 2 some rows rejected (the rest imported), 1 failed. */
export const EXIT_ROWS_REJECTED = 2;

// A report row shown whole on a terminal up to this many rows; above it, only rows to look at.
const SHOW_ALL_UP_TO = 50;
const SHOW_AT_MOST = 200;

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const plain = (value: unknown) =>
  value === null || value === undefined ? '' : String(value).replace(CONTROL, '?');

export function printImportResult(raw: unknown, jobId: string): void {
  const parsed = UserImportResult.safeParse(raw);
  if (!parsed.success) {
    printKeyValues((raw ?? {}) as Record<string, unknown>);
    return;
  }
  const { counts, report, rows, warnings } = parsed.data;
  printKeyValues({ rows, ...counts });
  for (const warning of warnings ?? []) process.stdout.write(`warning: ${plain(warning)}\n`);
  const shown =
    report.length <= SHOW_ALL_UP_TO
      ? report
      : report.filter((r) => r.status === 'rejected' || r.status === 'exists');
  if (shown.length > 0) {
    process.stdout.write('\n');
    printTable(
      shown.slice(0, SHOW_AT_MOST).map((r) => ({
        line: r.line,
        username: plain(r.username),
        status: r.status,
        reason: plain(r.reason),
      })),
      ['line', 'username', 'status', 'reason'],
    );
  }
  if (shown.length < report.length) {
    process.stdout.write(
      `\n${shown.length > SHOW_AT_MOST ? `${SHOW_AT_MOST} of ${shown.length} rows to look at shown; ` : ''}` +
        `the full report: --report FILE, or GET /v1/jobs/${jobId}/report\n`,
    );
  }
}

/** The old `import-users FILE`: username,email,role,initial_password. */
export const importUsersCommand: Command = {
  name: 'import-users',
  usage: 'datasync import-users FILE [--update-existing] [--report REPORT.csv]',
  summary:
    'import users from a CSV file (username,email,role,initial_password); exit 2 when rows were rejected',
  async run(ctx) {
    const { values, positionals } = parse(ctx.argv, {
      'update-existing': { type: 'boolean' },
      report: { type: 'string' },
    });
    const file = positionals[0];
    if (!file) throw new UsageError('import-users needs a CSV FILE');
    const reportFile = typeof values.report === 'string' ? values.report : null;
    const query = values['update-existing'] ? '?updateExisting=true' : '';
    let jobId = '';
    const exitCodeOf = (status: JobStatus) => {
      jobId = status.id;
      if (status.state !== 'completed') return 1;
      const result = UserImportResult.safeParse(status.result);
      return result.success && result.data.counts.rejected > 0 ? EXIT_ROWS_REJECTED : 0;
    };
    const code = await runJob(
      ctx,
      { path: `/v1/jobs/user-import${query}`, file },
      (result) => printImportResult(result, (result as { jobId?: string } | null)?.jobId ?? ''),
      exitCodeOf,
    );
    if (reportFile && code !== 1) {
      const csv = await ctx.client.request<string>('GET', `/v1/jobs/${encodeURIComponent(jobId)}/report`);
      writeFileSync(reportFile, csv);
      if (!ctx.json) process.stdout.write(`report written to ${reportFile}\n`);
    }
    return code;
  },
};
