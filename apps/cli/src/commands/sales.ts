import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { SALES_FILE_FORMATS, SalesFileFormat, SalesSyncResult } from '@datasync/schemas';
import { type Command, parse, runJob, UsageError } from '../command.js';
import { printKeyValues } from '../output.js';

/** The job's own counts first, as the old script printed them; then where to look further. */
export function printSalesSyncResult(value: unknown): void {
  const parsed = SalesSyncResult.safeParse(value);
  if (!parsed.success) {
    printKeyValues((value ?? {}) as Record<string, unknown>);
    return;
  }
  const r = parsed.data;
  const counts = { received: r.received, accepted: r.accepted, rejected: r.rejected };
  if (r.source === 'csv') {
    printKeyValues({
      ...counts,
      duplicates: r.duplicates,
      ...(r.duplicateOf
        ? { 'duplicate of': `import ${r.duplicateOf} (nothing stored; --force imports it again)` }
        : {}),
      ...(r.format && r.format !== 'csv' ? { format: r.format } : {}),
      'import id': r.importId,
      speed: `${r.rowsPerSecond} rows/s in ${(r.durationMs / 1000).toFixed(1)} s (${r.chunks} chunks)`,
    });
    if (r.rejected > 0) process.stdout.write(`rejected rows: GET /v1/rejects?importId=${r.importId}\n`);
  } else if (r.source === 'sql') {
    printKeyValues({
      ...counts,
      source: r.sourceName,
      window: `${r.window.from ?? '(start)'} .. ${r.window.to ?? '(no rows)'}`,
      pages: r.pages,
      watermark: r.watermark ?? '(none yet)',
      'count check': `${r.countCheck.days} days, ${r.countCheck.mismatches.length} differ`,
      speed: `${r.rowsPerSecond} rows/s in ${(r.durationMs / 1000).toFixed(1)} s`,
    });
    for (const m of r.countCheck.mismatches)
      process.stdout.write(`count differs on ${m.day}: source ${m.source}, stored ${m.stored}\n`);
    if (r.rejected > 0)
      process.stdout.write(`rejected rows: GET /v1/rejects?source=${encodeURIComponent(r.sourceName)}\n`);
  } else {
    printKeyValues({
      ...counts,
      source: r.sourceName,
      window: `${r.window.from} .. ${r.window.to}`,
      pages: r.pages,
      replaced: r.replaced,
      watermark: r.watermark,
    });
    if (r.rejected > 0) process.stdout.write(`rejected rows: GET /v1/rejects?batchId=${r.runId}\n`);
  }
  for (const warning of r.warnings) process.stdout.write(`warning: ${warning}\n`);
}

const CONTENT_TYPES: Record<SalesFileFormat, string> = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet',
  ndjson: 'application/x-ndjson',
};

/**
 * The format of a local file by its content, as the worker finds it: Parquet begins and ends with
 * `PAR1`; a first character `{` (after a BOM and spaces) is NDJSON; anything else CSV.
 */
export function sniffFileFormat(path: string): SalesFileFormat {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(4096, size));
    readSync(fd, head, 0, head.length, 0);
    const tail = Buffer.alloc(4);
    if (size >= 8) readSync(fd, tail, 0, 4, size - 4);
    if (head.subarray(0, 4).toString('latin1') === 'PAR1' && tail.toString('latin1') === 'PAR1')
      return 'parquet';
    return head
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trimStart()
      .startsWith('{')
      ? 'ndjson'
      : 'csv';
  } finally {
    closeSync(fd);
  }
}

/** The old `sync-sales --csv FILE` and `sync-sales --api URL --days N`; `--file` for Parquet and NDJSON too; `--sql` pulls SALES_DB_URL. */
export const syncSalesCommand: Command = {
  name: 'sync-sales',
  usage:
    'datasync sync-sales --csv FILE [--force] | --file FILE [--format csv|parquet|ndjson] [--force] | --api [URL] [--days N] | --sql',
  summary:
    'import a sales file (CSV, Parquet or NDJSON: --file finds which from the content), or pull sales from the upstream API or the SQL database (SALES_DB_URL)',
  async run(ctx) {
    const { values, positionals } = parse(ctx.argv, {
      csv: { type: 'string' },
      file: { type: 'string' },
      format: { type: 'string' },
      api: { type: 'boolean' },
      days: { type: 'string' },
      force: { type: 'boolean' },
      sql: { type: 'boolean' },
      source: { type: 'string' },
    });
    if (values.source !== undefined && values.source !== 'api' && values.source !== 'sql')
      throw new UsageError('--source must be api or sql (a CSV file: --csv FILE)');
    if (values.sql || values.source === 'sql') {
      // The worker pulls from its own SALES_DB_URL: no credentials travel with the job.
      return runJob(ctx, { path: '/v1/jobs/sales-sync', json: { source: 'sql' } }, printSalesSyncResult);
    }
    if (typeof values.csv === 'string') {
      const force = values.force ? '?force=true' : '';
      return runJob(ctx, { path: `/v1/sales/imports${force}`, file: values.csv }, printSalesSyncResult);
    }
    if (typeof values.file === 'string') {
      const file = values.file;
      let format: SalesFileFormat;
      if (values.format !== undefined) {
        const parsed = SalesFileFormat.safeParse(values.format);
        if (!parsed.success) throw new UsageError(`--format must be one of ${SALES_FILE_FORMATS.join(', ')}`);
        format = parsed.data;
      } else {
        try {
          format = sniffFileFormat(file);
        } catch (error) {
          throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
        }
      }
      const query = `?format=${format}${values.force ? '&force=true' : ''}`;
      return runJob(
        ctx,
        { path: `/v1/sales/imports${query}`, file, contentType: CONTENT_TYPES[format] },
        printSalesSyncResult,
      );
    }
    if (values.api || values.source === 'api') {
      const days = values.days === undefined ? 1 : Number(values.days);
      if (!Number.isInteger(days) || days < 1)
        throw new UsageError('--days must be a whole number of 1 or more');
      const url = positionals[0];
      return runJob(
        ctx,
        { path: '/v1/jobs/sales-sync', json: { source: 'api', days, ...(url ? { url } : {}) } },
        printSalesSyncResult,
      );
    }
    throw new UsageError('sync-sales needs --csv FILE, --file FILE, --api [URL] or --sql');
  },
};
