import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EXPORT_TABLES, ExportParams, ExportQuery } from '@datasync/schemas';
import { ApiError } from '../client.js';
import { type Command, parse, UsageError } from '../command.js';

// Short enough not to widen the help's first column; the summary names the tables and dates.
const USAGE = 'datasync export TABLE [--format csv|parquet] [--out FILE]';

/** The same rules as the api's (one schema): a bad value is a usage error naming it, before any request. */
function exportRequest(argv: string[]) {
  const { values, positionals } = parse(argv, {
    format: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    out: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('name one table to export');
  const params = ExportParams.safeParse({ table: positionals[0] });
  if (!params.success) throw new UsageError(params.error.issues[0]!.message);
  const query = ExportQuery.safeParse({ format: values.format, from: values.from, to: values.to });
  if (!query.success) {
    const issue = query.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    throw new UsageError(issue.message.startsWith(field) ? issue.message : `--${field}: ${issue.message}`);
  }
  const out = typeof values.out === 'string' ? values.out : undefined;
  return { table: params.data.table, ...query.data, out };
}

/** Counts what passes, so the summary says the bytes written, not the bytes promised. */
function byteCounter() {
  const counter = Object.assign(
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        counter.bytes += chunk.length;
        callback(null, chunk);
      },
    }),
    { bytes: 0 },
  );
  return counter;
}

/** Written beside the target under a temporary name, flushed, then renamed in: never half a file. */
async function writeAtomically(body: Readable, counter: Transform, target: string): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await pipeline(body, counter, createWriteStream(temp, { flags: 'wx' }));
    const handle = await open(temp, 'r');
    await handle.sync();
    await handle.close();
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** `datasync export TABLE`: the old guide's "export demo data", and the way out for anyone leaving. */
export const exportCommand: Command = {
  name: 'export',
  usage: USAGE,
  summary: `export ${EXPORT_TABLES.join(', ')} (no password hashes) as CSV or Parquet, to FILE or stdout; --from/--to DATE`,
  async run(ctx) {
    const { table, format, from, to, out } = exportRequest(ctx.argv);
    if (!out && format === 'parquet' && process.stdout.isTTY)
      throw new UsageError('Parquet is binary: write it to a file with --out FILE (or pipe it)');
    const query = new URLSearchParams({ format, ...(from ? { from } : {}), ...(to ? { to } : {}) });
    let response: Response;
    try {
      response = await ctx.client.download(`/v1/exports/${table}?${query}`);
    } catch (error) {
      // The api's own check of the same fields: still a usage error.
      if (error instanceof ApiError && error.status === 400) throw new UsageError(error.message);
      throw error;
    }
    const rows = Number(response.headers.get('x-export-rows'));
    const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
    const counter = byteCounter();
    const target = out ? resolve(out) : undefined;
    if (target) await writeAtomically(body, counter, target);
    else await pipeline(body, counter, process.stdout as Writable, { end: false });
    const summary = { table, format, rows, bytes: counter.bytes, file: target ?? null };
    process.stderr.write(
      ctx.json
        ? `${JSON.stringify(summary)}\n`
        : `exported ${rows} ${table} rows (${counter.bytes} bytes, ${format}) to ${target ?? 'stdout'}\n`,
    );
    return 0;
  },
};
