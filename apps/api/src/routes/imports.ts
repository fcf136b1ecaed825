import { ImportQuery, JOBS } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { enqueueOperatorJob, JOB_ACCEPTED_RESPONSES, sendAccepted } from './jobs.js';

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
        response: JOB_ACCEPTED_RESPONSES,
      },
    },
    async (request, reply) => {
      const { force } = request.query;
      const accepted = await request.withUpload((saved) =>
        enqueueOperatorJob(deps, JOBS.salesSync, { source: 'csv', file: saved.path, force }),
      );
      return sendAccepted(reply, accepted);
    },
  );
};
