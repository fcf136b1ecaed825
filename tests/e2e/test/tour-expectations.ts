import { expect } from 'vitest';
import type { Run, Stack } from './stack.js';

export type TourRun = Run;

/** What earlier commands left for later ones (ids the README's reader would carry along). */
export interface TourContext {
  stack: Stack;
  batchJobId?: string;
  healthJobId?: string;
}

/**
 * What each command of the README's tour must print, keyed by a piece of the command that is
 * unique in the tour. A README command with no key here, or a key matching no command, fails the
 * test: a README edit comes with an edit here.
 */
export interface TourExpectation {
  key: string;
  check(run: TourRun, context: TourContext, where: string): void;
}

const json = (run: TourRun, where: string): Record<string, unknown> => {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON: ${where}`);
  }
};

/** The CLI's aligned `key  value` lines (top level only) as a record. */
export function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([a-z][\w -]*?) {2,}(\S.*)$/gm)) out[m[1]!] ??= m[2]!;
  return out;
}

export const TOUR_EXPECTATIONS: TourExpectation[] = [
  {
    key: 'export INGEST_KEY=',
    check: (run, _c, where) => expect(run, where).toMatchObject({ code: 0, stdout: '', stderr: '' }),
  },
  {
    key: 'export OPERATOR_KEY=',
    check: (run, _c, where) => expect(run, where).toMatchObject({ code: 0, stdout: '', stderr: '' }),
  },
  {
    key: 'export DATASYNC_API_KEY=$OPERATOR_KEY',
    check: (run, _c, where) => expect(run, where).toMatchObject({ code: 0, stdout: '', stderr: '' }),
  },
  {
    key: "alias datasync='node apps/cli/dist/main.js'",
    check: (run, _c, where) => expect(run, where).toMatchObject({ code: 0, stdout: '', stderr: '' }),
  },
  {
    key: 'tour-batch-1',
    check(run, context, where) {
      expect(run.code, where).toBe(0);
      const receipt = json(run, where);
      expect(receipt, where).toMatchObject({
        batchId: expect.stringMatching(/^b_/),
        jobId: expect.stringMatching(/^b_/),
        received: 3,
        accepted: 2,
        rejected: 1,
        errors: [
          { index: 2, path: 'date', message: 'date must be a calendar date YYYY-MM-DD' },
          { index: 2, path: 'user_id', message: 'user_id must be 1 or more' },
        ],
      });
      context.batchJobId = receipt.jobId as string;
    },
  },
  {
    key: 'sales/batches?wait=true',
    check(run, _c, where) {
      expect(run.code, where).toBe(0);
      expect(json(run, where), where).toMatchObject({
        received: 1,
        accepted: 1,
        rejected: 0,
        committed: true,
        duplicate: false,
      });
    },
  },
  {
    key: 'JOB=$(curl',
    check: (run, _c, where) => expect(run, where).toMatchObject({ code: 0, stdout: '', stderr: '' }),
  },
  {
    key: 'curl -s http://localhost:3000/v1/jobs/$JOB',
    check(run, context, where) {
      expect(run.code, where).toBe(0);
      const job = json(run, where);
      // `sleep 2` is the README's guess; on a loaded machine the check may still be running.
      // `datasync jobs $JOB` at the end of the tour shows it finished.
      expect(job, where).toMatchObject({
        id: expect.any(String),
        type: 'health-check',
        queue: 'health',
        state: expect.stringMatching(/^(active|completed)$/),
      });
      if (job.state === 'completed')
        expect(job.result, where).toMatchObject({ status: expect.stringMatching(/^(ok|warn)$/) });
      context.healthJobId = job.id as string;
    },
  },
  {
    key: 'sales/summary?groupBy=region',
    check(run, _c, where) {
      expect(run.code, where).toBe(0);
      // The two batches: 2 + 1 rows stored, the quarantined one not.
      expect(json(run, where), where).toMatchObject({
        groupBy: 'region',
        rows: [
          { key: 'APAC', count: 1, revenue: '180.00' },
          { key: 'EU', count: 1, revenue: '19.90' },
          { key: 'North America', count: 1, quantity: 2, revenue: '1999.98' },
        ],
        totals: { count: 3, quantity: 4, revenue: '2199.88' },
      });
    },
  },
  {
    key: '/v1/rejects?limit=10',
    check(run, context, where) {
      expect(run.code, where).toBe(0);
      const body = json(run, where) as { total: number; items: Record<string, unknown>[] };
      expect(body.total, where).toBe(1);
      expect(body.items[0], where).toMatchObject({
        source: 'local-ingest',
        kind: 'sale',
        rowNumber: 2,
        reasons: [
          { index: 2, path: 'date', message: 'date must be a calendar date YYYY-MM-DD' },
          { index: 2, path: 'user_id', message: 'user_id must be 1 or more' },
        ],
      });
      expect(JSON.parse(body.items[0]!.raw as string), where).toMatchObject({
        id: 'A-3',
        date: '2026-02-30',
      });
      expect(context.batchJobId, where).toBe(body.items[0]!.batchId);
    },
  },
  {
    key: 'datasync sync-sales --csv scripts/examples/sales.csv',
    check(run, _c, where) {
      expect(run.code, where).toBe(0);
      expect(run.stderr, where).toMatch(/^job \S+ \(sales-sync\) queued$/m);
      expect(run.stderr, where).not.toMatch(/\[[\u2588\u2591]+\]/); // no progress bar on a pipe
      expect(run.stdout, where).toMatch(/^sales-sync completed \(job \S+\)$/m);
      expect(keyValues(run.stdout), where).toMatchObject({
        received: '5',
        accepted: '4',
        rejected: '1',
        duplicates: '0',
      });
      expect(run.stdout, where).toMatch(/^rejected rows: GET \/v1\/rejects\?importId=\S+$/m);
    },
  },
  {
    key: 'datasync import-users scripts/examples/users.csv',
    check(run, _c, where) {
      // Exit 2: some rows rejected, the rest imported (the command's documented exit code).
      expect(run.code, where).toBe(2);
      expect(run.stdout, where).toMatch(/^user-import completed \(job \S+\)$/m);
      expect(keyValues(run.stdout), where).toMatchObject({ rows: '4', created: '2', rejected: '2' });
      expect(run.stdout, where).toMatch(/^2\s+new_user_1\s+created$/m);
      expect(run.stdout, where).toMatch(/^4\s+new_user_1\s+rejected\s+username repeats line 2/im);
      expect(run.stdout, where).toMatch(/^5\s+bad user\s+rejected\s+.*email must be a valid address/m);
      expect(run.stdout, where).not.toMatch(/TempPass/);
    },
  },
  {
    key: 'datasync health-check',
    check(run, _c, where) {
      const overall = run.stdout.match(/^overall: (\w+)$/m)?.[1];
      expect(overall, where).toMatch(/^(ok|warn)$/);
      expect(run.code, where).toBe(overall === 'ok' ? 0 : 1);
      // So far: 3 sales from the batches and 4 from the CSV; 1 + 1 + 2 rejects; 2 users.
      expect(run.stdout, where).toMatch(/^row counts\s+ok\s+sales 7, rejects 4, users 2\b/m);
      for (const check of ['database', 'required values', 'business rules', 'last sync'])
        expect(run.stdout, where).toMatch(new RegExp(`^${check}\\s+ok\\s+\\S`, 'm'));
      // This machine's disk, not the stack's doing: only that it is reported.
      expect(run.stdout, where).toMatch(/^disk free\s+(ok|warn|fail)\s+database .* free/m);
      expect(run.stdout, where).toMatch(/^last backup\s+warn\s+no backup in .* yet$/m);
    },
  },
  {
    key: 'datasync backup && datasync backups',
    check(run, _c, where) {
      expect(run.code, where).toBe(0);
      expect(run.stdout, where).toMatch(/^backup completed \(job \S+\)$/m);
      const name = run.stdout.match(/^ {2}name\s+(backup-\S+)$/m)?.[1];
      expect(name, where).toBeDefined();
      expect(run.stdout, where).toMatch(/^ {4}state\s+verified$/m);
      expect(run.stdout, where).toMatch(/^ {4}sales\s+7$/m);
      // The list: this one backup, verified, local, with its checksum's start.
      const sha = run.stdout.match(/^ {2}sha256\s+([0-9a-f]{64})$/m)?.[1];
      expect(run.stdout, where).toMatch(/^name\s+created\s+size\s+verification\s+where\s+sha256$/m);
      expect(run.stdout, where).toMatch(
        new RegExp(
          `^${name}\\s+\\S+Z\\s+[\\d.]+ \\w+\\s+verified\\s+local\\s+${sha?.slice(0, 12)}\\.\\.\\.$`,
          'm',
        ),
      );
    },
  },
  {
    key: 'datasync verify-backup',
    check(run, _c, where) {
      expect(run.code, where).toBe(0);
      expect(run.stdout, where).toMatch(/^verify-backup completed \(job \S+\)$/m);
      expect(keyValues(run.stdout), where).toMatchObject({
        name: expect.stringMatching(/^backup-/),
        ok: 'true',
      });
      expect(run.stdout, where).toMatch(/^ {2}sales\s+7$/m);
    },
  },
  {
    key: 'datasync schedules',
    check(run, _c, where) {
      expect(run.code, where).toBe(0);
      for (const [id, cron] of [
        ['sales-sync', '0 2 \\* \\* \\*'],
        ['health-check', '0 \\* \\* \\* \\*'],
        ['backup', '0 3 \\* \\* \\*'],
        ['backup-cleanup', '0 4 \\* \\* 0'],
        ['verify-backup', '0 5 1 \\* \\*'],
      ])
        expect(run.stdout, where).toMatch(
          new RegExp(`^${id}\\s+${cron}\\s+UTC\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s`, 'm'),
        );
    },
  },
  {
    key: 'datasync jobs $JOB',
    check(run, context, where) {
      expect(run.code, where).toBe(0);
      expect(keyValues(run.stdout), where).toMatchObject({
        id: context.healthJobId,
        type: 'health-check',
        state: 'completed',
        attempts: '1',
      });
      expect(run.stdout, where).toMatch(/^ {2}status\s+(ok|warn)$/m);
    },
  },
];

/**
 * The README commands with no expectation (or more than one), and the expectations whose command
 * is gone: both must be empty, so the README and this file change together.
 */
export function uncovered(
  commands: readonly { text: string }[],
  expectations: readonly { key: string }[] = TOUR_EXPECTATIONS,
): { commands: string[]; expectations: string[] } {
  return {
    commands: commands
      .filter((c) => expectations.filter((e) => c.text.includes(e.key)).length !== 1)
      .map((c) => c.text),
    expectations: expectations
      .filter((e) => commands.filter((c) => c.text.includes(e.key)).length !== 1)
      .map((e) => e.key),
  };
}
