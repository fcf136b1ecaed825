import type { HealthCheckResult, JobStatus, SchedulesBody } from '@datasync/schemas';
import { type Command, parse, print, runJob } from '../command.js';
import { printKeyValues, printTable } from '../output.js';

const EXIT = { ok: 0, warn: 1, fail: 2 } as const;

/** Exit code 0 ok, 1 warn, 2 fail (a health-check job that failed counts as fail). */
export const healthCheckCommand: Command = {
  name: 'health-check',
  usage: 'datasync health-check [--json]',
  summary: 'run the health check: a table for people, --json for machines; exit 0 ok, 1 warn, 2 fail',
  async run(ctx) {
    parse(ctx.argv, {});
    return runJob(
      ctx,
      { path: '/v1/jobs/health-check', json: {} },
      (result) => {
        const r = result as Partial<HealthCheckResult> | null;
        if (r?.checks) printTable(r.checks, ['name', 'status', 'detail']);
        else printKeyValues((result ?? {}) as Record<string, unknown>);
        process.stdout.write(`overall: ${r?.status ?? 'unknown'}\n`);
      },
      (status: JobStatus) => {
        if (status.state !== 'completed') return EXIT.fail;
        const s = (status.result as Partial<HealthCheckResult> | null)?.status;
        return s === 'ok' || s === 'warn' ? EXIT[s] : EXIT.fail;
      },
    );
  },
};

const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

export const schedulesCommand: Command = {
  name: 'schedules',
  usage: 'datasync schedules [--json]',
  summary: 'show the timetable: each schedule with its timezone, last and next run',
  async run(ctx) {
    parse(ctx.argv, {});
    const body = await ctx.client.request<SchedulesBody>('GET', '/v1/schedules');
    print(ctx.json, body, () => {
      printTable(
        body.schedules.map((s) => ({
          schedule: s.id,
          cron: s.enabled ? s.cron : 'off',
          tz: s.tz ?? '',
          'next run (UTC)': when(s.nextRun),
          'last run (UTC)': s.lastRun
            ? `${when(s.lastRun.startedAt)} ${s.lastRun.state ?? 'removed'}`
            : 'never',
          skipped: s.skippedRuns,
        })),
      );
      if (body.unknown.length)
        process.stdout.write(
          `not in the timetable (the scheduler removes them): ${body.unknown.map((u) => `${u.id} (${u.queue})`).join(', ')}\n`,
        );
    });
    return 0;
  },
};
