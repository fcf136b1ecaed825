import { ImportQuery, JOBS } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { contentTypeOf, FILE_FORMAT_TYPES } from '../plugins/uploads.js';
import { enqueueOperatorJob, JOB_ACCEPTED_RESPONSES, sendAccepted } from './jobs.js';

/**
 * `POST /v1/sales/imports`: a sales file (CSV, Parquet or NDJSON) of any size, streamed to
 * IMPORT_DIR, then a sales-sync job. The format: `?format=`, else the Content-Type's, else the
 * worker finds it from the content.
 */
export const importsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.post(
    '/v1/sales/imports',
    {
      schema: {
        summary: 'Import a sales file (CSV, Parquet or NDJSON)',
        description:
          'Body: the file. CSV (Content-Type: text/csv) with a header row naming the sale columns in any order; Parquet (application/vnd.apache.parquet) with those columns (other columns ignored); NDJSON (application/x-ndjson), one sale object a line. With application/octet-stream or text/plain the format is found from the content; ?format= forces one. Rejected records carry their line (CSV, NDJSON) or row (Parquet). The same file (by content) imported twice is a no-op unless ?force=true.',
        tags: ['ingest'],
        security: [{ bearer: [] }],
        querystring: ImportQuery,
        response: JOB_ACCEPTED_RESPONSES,
      },
    },
    async (request, reply) => {
      const { force } = request.query;
      const typed = FILE_FORMAT_TYPES[contentTypeOf(request.headers) as keyof typeof FILE_FORMAT_TYPES];
      const format = request.query.format ?? typed;
      const accepted = await request.withUpload((saved) =>
        enqueueOperatorJob(deps, JOBS.salesSync, {
          source: 'csv',
          file: saved.path,
          force,
          ...(format ? { format } : {}),
        }),
      );
      return sendAccepted(reply, accepted);
    },
  );
};
