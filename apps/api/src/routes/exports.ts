import { once } from 'node:events';
import { createReadStream, type ReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  EXPORT_CONTENT_TYPES,
  EXPORTS_FOLDER,
  ExportFile,
  type ExportFormat,
  ExportParams,
  ExportQuery,
  type ExportTable,
  ExportTableResult,
  Problem,
  QUEUES,
  REPORT_JOBS,
} from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { HttpProblem } from '../errors.js';
import { requestFromWorker } from '../report-request.js';

const ERRORS = { 400: Problem, 401: Problem, 403: Problem, 500: Problem, 503: Problem, 504: Problem };

export function exportFileName(table: ExportTable, format: ExportFormat, from?: string, to?: string): string {
  return `${table}${from ? `-from-${from}` : ''}${to ? `-to-${to}` : ''}.${format}`;
}

/** The worker names the file (checked by ExportTableResult): it is in this api's IMPORT_DIR/.exports. */
const exportFileOf = (name: string, importDir: string) => join(resolve(importDir), EXPORTS_FOLDER, name);

async function openExport(file: string): Promise<ReadStream> {
  const stream = createReadStream(file);
  try {
    await once(stream, 'open');
    return stream;
  } catch (error) {
    stream.destroy();
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new HttpProblem(
      500,
      'Export Not Visible',
      'the sync-worker wrote the export, but the api cannot see it: the api and the sync-worker must share IMPORT_DIR (the same folder, as for uploads)',
    );
  }
}

/**
 * `GET /v1/exports/{table}`: a table as CSV or Parquet. A sync-worker writes the file with DuckDB's
 * COPY (the api never opens DuckDB) into IMPORT_DIR/.exports; it is streamed from there and
 * removed once sent, or when the client goes away. One the api never came back for is swept by
 * the worker.
 */
export const exportsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/exports/:table',
    {
      schema: {
        summary: 'Export a table as CSV or Parquet',
        description:
          'table: sales, rejects or users (users without password hashes). format: csv (default; a header row, then one line per row; timestamps as ISO text in UTC) or parquet (typed: DATE, DECIMAL(18,2), UTC timestamps). from..to (inclusive, either may be left out) filter on the sale date for sales, on the day a record was quarantined (UTC) for rejects, on the day a user was created for users. The sales columns are named as a CSV import reads them, so an exported file imports into another installation as it is. The answer is the file, as an attachment; x-export-rows says how many rows it holds. An empty result is a header-only CSV or a Parquet file with no rows.',
        tags: ['reports'],
        security: [{ bearer: [] }],
        params: ExportParams,
        querystring: ExportQuery,
        response: { 200: ExportFile, ...ERRORS },
      },
    },
    async (request, reply) => {
      const { table } = request.params;
      const { format, from, to } = request.query;
      let gone = false;
      reply.raw.once('close', () => {
        gone = true;
      });
      const result = ExportTableResult.parse(
        await requestFromWorker(deps, QUEUES.reports, REPORT_JOBS.exportTable, { table, format, from, to }),
      );
      const file = exportFileOf(result.file, deps.config.IMPORT_DIR);
      const remove = () =>
        void rm(file, { force: true }).catch((error) =>
          request.log.warn({ err: error, file }, 'could not remove a sent export file'),
        );
      if (gone) {
        remove(); // the client left while the worker wrote it
        return reply;
      }
      const stream = await openExport(file);
      // Sent, or the client went away mid-file: either way the file has served its one reader.
      reply.raw.once('close', remove);
      request.log.info({ table, format, rows: result.rows, bytes: result.bytes }, 'export sent');
      return (
        reply
          .type(EXPORT_CONTENT_TYPES[format])
          .header('content-length', String(result.bytes))
          .header('content-disposition', `attachment; filename="${exportFileName(table, format, from, to)}"`)
          .header('x-export-rows', String(result.rows))
          // The typed 200 is the file as documentation; Fastify sends a stream as it is, unserialised.
          .send(stream as unknown as string)
      );
    },
  );
};
