import { JOBS, MigrateQuery } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { enqueueOperatorJob, JOB_ACCEPTED_RESPONSES, sendAccepted } from './jobs.js';

/**
 * `POST /v1/migrations`: the old script's database file, streamed to IMPORT_DIR like a CSV upload,
 * then a `migrate` job that copies its sales and users through the same rules (`datasync migrate`).
 */
export const migrationsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.post(
    '/v1/migrations',
    {
      schema: {
        summary: "Migrate the old script's database file",
        description:
          "Body: the old DuckDB file (Content-Type: application/octet-stream). Its `sales` and `users` are copied through the same rules as every other path: bad rows quarantined with the old row and reasons, argon2/bcrypt password hashes kept, other users flagged must_change_password. The same file twice changes nothing; a run killed midway resumes. The job's result is the verification report. `?dryRun=true` reports without writing; `?map=total_amount=amount` (repeatable) names old columns that differ from the old guide's.",
        tags: ['jobs'],
        security: [{ bearer: [] }],
        querystring: MigrateQuery,
        response: JOB_ACCEPTED_RESPONSES,
      },
    },
    async (request, reply) => {
      const { dryRun, map, name } = request.query;
      const accepted = await request.withUpload((saved) =>
        enqueueOperatorJob(deps, JOBS.migrate, {
          file: saved.path,
          dryRun,
          map,
          ...(name ? { originalName: name } : {}),
        }),
      );
      return sendAccepted(reply, accepted);
    },
  );
};
