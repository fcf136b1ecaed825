import {
  JOBS,
  JobIdParams,
  Problem,
  QUEUES,
  UserImportReportCsv,
  type UserImportReportRow,
  UserImportResult,
} from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type ApiDeps, queueOf } from '../deps.js';
import { conflict, notFound } from '../errors.js';

// OWASP CSV injection: a cell a spreadsheet would read as a formula gets a leading apostrophe.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

export function userImportReportCsv(rows: readonly UserImportReportRow[]): string {
  const lines = ['line,username,status,reason'];
  for (const r of rows) lines.push([r.line, r.username, r.status, r.reason].map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * `GET /v1/jobs/:id/report`: the per-row report of a finished user import as CSV, built from the
 * job's result (the api never opens DuckDB). It never holds a password: the result has no field
 * for one.
 */
export const userImportReportRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/jobs/:id/report',
    {
      schema: {
        summary: 'The per-row report of a user import, as CSV',
        description:
          'Columns: line (of the file, the header is line 1), username, status (created, updated, exists, rejected), reason. Cells that a spreadsheet would take for a formula start with an apostrophe.',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        params: JobIdParams,
        response: {
          200: UserImportReportCsv,
          404: Problem,
          409: Problem,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // Only this queue: BullMQ numbers jobs per queue, so the same id exists in other queues.
      const job = await queueOf(deps, QUEUES.userImport).getJob(id);
      if (job?.name !== JOBS.userImport) {
        throw notFound(`no user import job ${id} (finished jobs are kept 7 days, failed ones 30)`);
      }
      const state = await job.getState();
      if (state === 'failed') {
        throw conflict(`user import ${id} failed, so it has no report: ${job.failedReason}`);
      }
      if (state !== 'completed') {
        throw conflict(`user import ${id} is ${state}; its report is ready when it completes`, 2);
      }
      const result = UserImportResult.parse(job.returnvalue);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="user-import-${id}-report.csv"`)
        .send(userImportReportCsv(result.report));
    },
  );
};
