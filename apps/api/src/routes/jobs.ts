import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  JobAccepted,
  JobQuery,
  JobStatus,
  OPERATOR_JOB_PAYLOADS,
  OPERATOR_JOB_QUEUES,
  OPERATOR_JOB_TYPES,
  type OperatorJobType,
  Problem,
  type QueueName,
} from '@datasync/schemas';
import type { Job, Queue } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/auth.js';
import { type ApiDeps, queueOf } from '../deps.js';
import { badRequest, notFound, unsupportedMediaType } from '../errors.js';
import { checkImportFile, uploadOptions, withSavedUpload } from '../ingest/upload.js';
import { bodyCheckedByHand } from '../validation.js';

export const UPLOAD_TYPES = ['text/csv', 'application/csv', 'application/octet-stream', 'text/plain'];

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
  const operator = requireScope(deps.keys, 'operator');
  // CSV uploads (user import, sales CSV) arrive as a raw stream: any size, never buffered.
  app.addContentTypeParser(UPLOAD_TYPES, (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/jobs/:type',
    {
      onRequest: operator,
      validatorCompiler: bodyCheckedByHand,
      schema: {
        summary: 'Enqueue an operator job',
        description:
          'JSON body: the options of that job type. `user-import` also takes a CSV file as the body (Content-Type: text/csv), streamed to IMPORT_DIR, and then reads `?updateExisting=true` (a sales CSV goes to `POST /v1/sales/imports`). The answer says how many workers listen on the queue: 0 means the job waits until one starts.',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        params: z.object({ type: z.enum(OPERATOR_JOB_TYPES as [OperatorJobType]) }),
        querystring: JobQuery,
        body: z
          .union(Object.values(OPERATOR_JOB_PAYLOADS) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])
          .describe(
            'the options of the job type in the path: sales-sync {source:"api", url?, days} or {source:"csv", file, force}; user-import {file, updateExisting}; backup {}; backup-cleanup {days?}; restore {name}; verify-backup {name?}; health-check {}',
          ),
        response: {
          202: JobAccepted.extend({ queue: z.string(), workers: z.number().int() }),
          400: Problem,
          404: Problem,
          408: Problem,
          413: Problem,
          415: Problem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      const { type } = request.params;
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (UPLOAD_TYPES.includes(contentType)) {
        // Refused before a byte is written: a file for a JSON job type never reaches IMPORT_DIR.
        // A sales CSV has one entrance, POST /v1/sales/imports (imports.ts).
        if (type === 'sales-sync') {
          throw unsupportedMediaType('a sales CSV file is uploaded to POST /v1/sales/imports');
        }
        if (type !== 'user-import') {
          throw unsupportedMediaType(
            `job type ${type} takes a JSON body (Content-Type: application/json), not a file`,
          );
        }
        const { updateExisting } = request.query;
        const accepted = await withSavedUpload(
          request.body as Readable,
          uploadOptions(deps, request.headers['content-length']),
          (saved) => enqueueOperatorJob(deps, type, { file: saved.path, updateExisting }),
        );
        reply.header('location', `/v1/jobs/${accepted.jobId}`);
        return reply.status(202).send(accepted);
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
      reply.header('location', `/v1/jobs/${accepted.jobId}`);
      return reply.status(202).send(accepted);
    },
  );

  app.get(
    '/v1/jobs',
    {
      onRequest: operator,
      schema: {
        summary: 'Recent operator jobs, newest first',
        description:
          'The latest jobs of the operator queues (sales-sync, user-import, backup, health): waiting, running and finished, with state and progress. Ingest batches and report reads are not listed.',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
        response: { 200: z.object({ jobs: z.array(JobStatus) }), 400: Problem },
      },
    },
    async (request) => {
      const { limit } = request.query;
      const queues = [...new Set(Object.values(OPERATOR_JOB_QUEUES))].map((name) => queueOf(deps, name));
      const found = await Promise.all(
        queues.map(async (queue) => {
          const jobs = await queue.getJobs(
            ['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'],
            0,
            limit - 1,
          );
          return jobs.filter(Boolean).map((job) => ({ job, queue }));
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
      onRequest: operator,
      schema: {
        summary: 'A job: state, progress, attempts, result or error',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        params: z.object({ id: z.string().min(1).max(200) }),
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
