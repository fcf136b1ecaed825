import type { Readable } from 'node:stream';
import { ImportQuery, Problem } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/auth.js';
import type { ApiDeps } from '../deps.js';
import { uploadOptions, withSavedUpload } from '../ingest/upload.js';
import { bodyCheckedByHand } from '../validation.js';
import { enqueueOperatorJob, UPLOAD_TYPES } from './jobs.js';

/** `POST /v1/sales/imports`: a sales CSV file of any size, streamed to IMPORT_DIR, then a sales-sync job. */
export const importsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.addContentTypeParser(UPLOAD_TYPES, (_request, payload, done) => done(null, payload));
  app.post(
    '/v1/sales/imports',
    {
      onRequest: requireScope(deps.keys, 'operator'),
      validatorCompiler: bodyCheckedByHand,
      schema: {
        summary: 'Import a sales CSV file',
        description:
          'Body: the CSV file (Content-Type: text/csv), with a header row naming the sale columns in any order. The same file (by content) imported twice is a no-op unless ?force=true.',
        tags: ['ingest'],
        security: [{ bearer: [] }],
        querystring: ImportQuery,
        response: {
          202: z.object({
            jobId: z.string(),
            type: z.string(),
            queue: z.string(),
            workers: z.number().int(),
          }),
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
      const accepted = await withSavedUpload(
        request.body as Readable,
        uploadOptions(deps, request.headers['content-length']),
        (saved) => enqueueOperatorJob(deps, 'sales-sync', { source: 'csv', file: saved.path, force }),
      );
      reply.header('location', `/v1/jobs/${accepted.jobId}`);
      return reply.status(202).send(accepted);
    },
  );
};
