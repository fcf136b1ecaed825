import { randomUUID } from 'node:crypto';
import {
  JOBS,
  JobIdParams,
  JobQuery,
  JobStatus,
  OPERATOR_JOB_PAYLOADS,
  OPERATOR_JOB_QUEUES,
  OperatorJobAccepted,
  OperatorJobBody,
  OperatorJobParams,
  type OperatorJobType,
  Problem,
  type QueueName,
  REPORT_JOBS,
  RecentJobs,
  RecentJobsQuery,
} from '@datasync/schemas';
import type { Job, Queue } from 'bullmq';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type ApiDeps, queueOf } from '../deps.js';
import { badRequest, notFound, unsupportedMediaType } from '../errors.js';
import { checkImportFile } from '../ingest/upload.js';
import { contentTypeOf, FILE_FORMAT_TYPES } from '../plugins/uploads.js';
import { rawBody } from '../validation.js';

/** Jobs the api itself queues to read (the backups list): not operator work, not listed. */
const READS = new Set<string>(Object.values(REPORT_JOBS));

/** What an operator job's enqueue answers; a file upload may also be too slow (408) or too big (413). */
export const JOB_ACCEPTED_RESPONSES = {
  202: OperatorJobAccepted,
  400: Problem,
  408: Problem,
  413: Problem,
  415: Problem,
  503: Problem,
};

/** 202 with the job's URL in Location. */
export function sendAccepted(reply: FastifyReply, accepted: OperatorJobAccepted) {
  reply.header('location', `/v1/jobs/${accepted.jobId}`);
  return reply.status(202).send(accepted);
}

/** Enqueues an operator job; shared by `POST /v1/jobs/:type` and `POST /v1/sales/imports`. */
export async function enqueueOperatorJob(deps: ApiDeps, type: OperatorJobType, payload: unknown) {
  const queueName: QueueName = OPERATOR_JOB_QUEUES[type];
  const queue = queueOf(deps, queueName);
  // Ids unique across queues (BullMQ numbers jobs per queue), so GET /v1/jobs/:id finds one job.
  const job = await queue.add(type, payload, { jobId: randomUUID() });
  const workers = await queue.getWorkersCount().catch(() => 0);
  return { jobId: job.id!, type, queue: queueName, workers };
}

export async function findJob(deps: ApiDeps, id: string): Promise<{ job: Job; queue: Queue } | null> {
  for (const queue of deps.queues.values()) {
    const job = await queue.getJob(id);
    if (job) return { job, queue };
  }
  return null;
}

export async function jobStatus(found: Job, queue: Queue): Promise<JobStatus> {
  const state = await found.getState();
  // Read after the state: a job that finished between the two reads must not show as completed
  // without its result.
  const job =
    state === 'completed' || state === 'failed' ? ((await queue.getJob(found.id!)) ?? found) : found;
  return {
    id: job.id!,
    type: job.name,
    queue: queue.name,
    state: JobStatus.shape.state.safeParse(state).success ? (state as JobStatus['state']) : 'unknown',
    progress: job.progress,
    attempts: job.attemptsMade,
    result: job.returnvalue ?? null,
    error: job.failedReason ?? null,
    createdAt: new Date(job.timestamp).toISOString(),
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

/** `POST /v1/jobs/:type` and `GET /v1/jobs/:id`, for operators. */
export const jobsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.post(
    '/v1/jobs/:type',
    {
      schema: {
        summary: 'Enqueue an operator job',
        description:
          'JSON body: the options of that job type. `user-import` also takes a CSV file as the body (Content-Type: text/csv), streamed to IMPORT_DIR, and then reads `?updateExisting=true` (a sales CSV goes to `POST /v1/sales/imports`). The answer says how many workers listen on the queue: 0 means the job waits until one starts.',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        params: OperatorJobParams,
        querystring: JobQuery,
        // Checked by hand below against the one payload of the type in the path.
        body: rawBody(OperatorJobBody),
        response: { ...JOB_ACCEPTED_RESPONSES, 404: Problem },
      },
    },
    async (request, reply) => {
      const { type } = request.params;
      if (request.isUpload) {
        // Refused before a byte is written: a file for a JSON job type never reaches IMPORT_DIR.
        // A sales CSV has one entrance, POST /v1/sales/imports (imports.ts).
        if (type === JOBS.salesSync) {
          throw unsupportedMediaType('a sales CSV file is uploaded to POST /v1/sales/imports');
        }
        if (type === JOBS.migrate) {
          throw unsupportedMediaType('an old database file is uploaded to POST /v1/migrations');
        }
        if (type !== JOBS.userImport) {
          throw unsupportedMediaType(
            `job type ${type} takes a JSON body (Content-Type: application/json), not a file`,
          );
        }
        if (contentTypeOf(request.headers) in FILE_FORMAT_TYPES) {
          throw unsupportedMediaType('a user import takes a CSV file (Content-Type: text/csv)');
        }
        const { updateExisting } = request.query;
        const accepted = await request.withUpload((saved) =>
          enqueueOperatorJob(deps, type, { file: saved.path, updateExisting }),
        );
        return sendAccepted(reply, accepted);
      }
      const parsed = OPERATOR_JOB_PAYLOADS[type].safeParse(request.body ?? {});
      if (!parsed.success) {
        throw badRequest(
          `invalid options for ${type}`,
          parsed.error.issues.map((issue, index) => ({
            index,
            path: issue.path.join('.'),
            message: issue.message,
          })),
        );
      }
      const file = (parsed.data as { file?: unknown }).file;
      if (typeof file === 'string') checkImportFile(file, deps.config.IMPORT_DIR);
      const accepted = await enqueueOperatorJob(deps, type, parsed.data);
      return sendAccepted(reply, accepted);
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        summary: 'Recent operator jobs, newest first',
        description:
          'The latest jobs of the operator queues (sales-sync, user-import, backup, health): waiting, running and finished, with state and progress. Ingest batches, report reads and scheduled future runs (GET /v1/schedules) are not listed.',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        querystring: RecentJobsQuery,
        response: { 200: RecentJobs, 400: Problem },
      },
    },
    async (request) => {
      const { limit } = request.query;
      const queues = [...new Set(Object.values(OPERATOR_JOB_QUEUES))].map((name) => queueOf(deps, name));
      const found = await Promise.all(
        queues.map(async (queue) => {
          const jobs = await queue.getJobs(
            ['active', 'waiting', 'prioritized', 'completed', 'failed'],
            0,
            limit - 1,
          );
          // Report reads (the backups list) are the api's own; scheduled next runs are the timetable's.
          return jobs.filter((job) => job && !READS.has(job.name)).map((job) => ({ job, queue }));
        }),
      );
      const newest = found
        .flat()
        .sort((a, b) => b.job.timestamp - a.job.timestamp)
        .slice(0, limit);
      return { jobs: await Promise.all(newest.map(({ job, queue }) => jobStatus(job, queue))) };
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'A job: state, progress, attempts, result or error',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        params: JobIdParams,
        response: { 200: JobStatus, 404: Problem },
      },
    },
    async (request) => {
      const found = await findJob(deps, request.params.id);
      if (!found)
        throw notFound(`no job ${request.params.id} (finished jobs are kept 7 days, failed ones 30)`);
      return jobStatus(found.job, found.queue);
    },
  );
};
