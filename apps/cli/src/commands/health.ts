import type { JobStatus } from '@datasync/schemas';
import { type Command, parse, runJob } from '../command.js';
import { printKeyValues, printTable } from '../output.js';

interface HealthResult {
  status: 'ok' | 'warn' | 'fail';
  checks?: { name: string; status: string; detail?: string }[];
}

/** Exit code 0 ok, 1 warn, 2 fail (a failed job counts as fail). */
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
        const r = result as HealthResult;
        if (r?.checks)
          printTable(r.checks as unknown as Record<string, unknown>[], ['name', 'status', 'detail']);
        else printKeyValues((result ?? {}) as Record<string, unknown>);
        process.stdout.write(`overall: ${r?.status ?? 'unknown'}\n`);
      },
      (status: JobStatus) => {
        if (status.state !== 'completed') return 2;
        const s = (status.result as HealthResult | null)?.status;
        return s === 'ok' ? 0 : s === 'warn' ? 1 : 2;
      },
    );
  },
};

export const schedulesCommand: Command = {
  name: 'schedules',
  usage: 'datasync schedules [--json]',
  summary: 'show the timetable: each schedule with its timezone, last and next run',
  async run(ctx) {
    const body = await ctx.client.request<{ schedules: Record<string, unknown>[] }>('GET', '/v1/schedules');
    if (ctx.json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    else printTable(body.schedules);
    return 0;
  },
};
