import { ImportQuery, JOBS, OperatorJobAccepted, Problem } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { enqueueOperatorJob } from './jobs.js';

/** `POST /v1/sales/imports`: a sales CSV file of any size, streamed to IMPORT_DIR, then a sales-sync job. */
export const importsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.post(
    '/v1/sales/imports',
    {
      schema: {
        summary: 'Import a sales CSV file',
        description:
          'Body: the CSV file (Content-Type: text/csv), with a header row naming the sale columns in any order. The same file (by content) imported twice is a no-op unless ?force=true.',
        tags: ['ingest'],
        security: [{ bearer: [] }],
        querystring: ImportQuery,
        response: {
          202: OperatorJobAccepted,
          400: Problem,
          408: Problem,
          413: Problem,
          415: Problem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      const { force } = request.query;
      const accepted = await request.withUpload((saved) =>
        enqueueOperatorJob(deps, JOBS.salesSync, { source: 'csv', file: saved.path, force }),
      );
      reply.header('location', `/v1/jobs/${accepted.jobId}`);
      return reply.status(202).send(accepted);
    },
  );
};
