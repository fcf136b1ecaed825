import { ListBackupsResult, Problem, QUEUES, REPORT_JOBS } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { requestFromWorker } from '../report-request.js';

/** `GET /v1/backups`: the backup-worker lists them (local manifests and S3); the api only relays. */
export const backupsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/backups',
    {
      schema: {
        summary: 'Backups, newest first, with size, checksum, verification state and location (local, S3)',
        tags: ['backups'],
        security: [{ bearer: [] }],
        response: { 200: ListBackupsResult, 503: Problem, 504: Problem },
      },
    },
    async () => requestFromWorker<ListBackupsResult>(deps, QUEUES.backup, REPORT_JOBS.backups, {}),
  );
};
