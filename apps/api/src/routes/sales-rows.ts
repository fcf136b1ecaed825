import {
  BatchIdParams,
  Problem,
  QUEUES,
  REPORT_JOBS,
  SalesBatchOrigin,
  SalesRowsPage,
  SalesRowsQuery,
} from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { notFound } from '../errors.js';
import { requestFromWorker } from '../report-request.js';

const ERRORS = { 400: Problem, 401: Problem, 403: Problem, 500: Problem, 503: Problem, 504: Problem };

/**
 * The drill-down: from a figure to its sales rows, and from a row to the batch, CSV import or
 * upstream pull it came from. Read by a sync-worker on its read connection, like every report.
 */
export const salesRowsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/sales/rows',
    {
      schema: {
        summary: 'The sales rows behind a figure',
        description:
          'Sales rows filtered like /v1/sales/analytics (from..to inclusive, region, product, source) and by batchId, newest sale date first, with the total matching; page with limit (at most 1,000) and offset.',
        tags: ['reports'],
        security: [{ bearer: [] }],
        querystring: SalesRowsQuery,
        response: { 200: SalesRowsPage, ...ERRORS },
      },
    },
    async (request) =>
      requestFromWorker<SalesRowsPage>(deps, QUEUES.reports, REPORT_JOBS.salesRows, request.query),
  );

  app.get(
    '/v1/sales/batches/:batchId',
    {
      schema: {
        summary: 'Where a batch of sales came from',
        description:
          'For the batchId of a sales row or a reject: a POSTed batch or an upstream pull (with the dates it replaced) from the ingest ledger, or a CSV import (batchId is the import id) with its file name, SHA-256, size and state; with the counts received, stored and rejected.',
        tags: ['reports'],
        security: [{ bearer: [] }],
        params: BatchIdParams,
        response: { 200: SalesBatchOrigin, 404: Problem, ...ERRORS },
      },
    },
    async (request) => {
      const origin = await requestFromWorker<SalesBatchOrigin | null>(
        deps,
        QUEUES.reports,
        REPORT_JOBS.salesBatchOrigin,
        request.params,
      );
      if (!origin) throw notFound(`no batch, CSV import or upstream run ${request.params.batchId}`);
      return origin;
    },
  );
};
