import { type Command, parse, runJob, UsageError } from '../command.js';
import { printKeyValues } from '../output.js';

/** The old `sync-sales --csv FILE` and `sync-sales --api URL --days N`. */
export const syncSalesCommand: Command = {
  name: 'sync-sales',
  usage: 'datasync sync-sales --csv FILE [--force] | --api [URL] [--days N]',
  summary: 'import a sales CSV file, or pull sales from the upstream API',
  async run(ctx) {
    const { values, positionals } = parse(ctx.argv, {
      csv: { type: 'string' },
      api: { type: 'boolean' },
      days: { type: 'string' },
      force: { type: 'boolean' },
    });
    const summarize = (result: unknown) => printKeyValues((result ?? {}) as Record<string, unknown>);
    if (typeof values.csv === 'string') {
      const force = values.force ? '?force=true' : '';
      return runJob(ctx, { path: `/v1/sales/imports${force}`, file: values.csv }, summarize);
    }
    if (values.api) {
      const days = values.days === undefined ? 1 : Number(values.days);
      if (!Number.isInteger(days) || days < 1)
        throw new UsageError('--days must be a whole number of 1 or more');
      const url = positionals[0];
      return runJob(
        ctx,
        { path: '/v1/jobs/sales-sync', json: { source: 'api', days, ...(url ? { url } : {}) } },
        summarize,
      );
    }
    throw new UsageError('sync-sales needs --csv FILE or --api [URL]');
  },
};
