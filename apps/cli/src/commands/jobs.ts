import type { JobStatus } from '@datasync/schemas';
import { type Command, parse, print, UsageError } from '../command.js';
import { printKeyValues } from '../output.js';

export const jobsCommand: Command = {
  name: 'jobs',
  usage: 'datasync jobs ID [--json]',
  summary: 'show a job: state, progress, attempts, result or error',
  async run(ctx) {
    const { positionals } = parse(ctx.argv, {});
    const id = positionals[0];
    if (!id) throw new UsageError('jobs needs a job id');
    const status = await ctx.client.request<JobStatus>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
    print(ctx.json, status, () => printKeyValues(status as unknown as Record<string, unknown>));
    return status.state === 'failed' ? 1 : 0;
  },
};
