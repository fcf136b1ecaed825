import { ALL_QUEUES, Problem, QueueDepths } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type ApiDeps, queueOf } from '../deps.js';

/** `GET /v1/queues`: jobs per queue and state, read from Redis (no worker involved). */
export const queuesRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/queues',
    {
      schema: {
        summary: 'Queue depths',
        description:
          'Per queue: jobs waiting (with prioritized), active, delayed, failed and paused, and the workers listening. The same figures as datasync_queue_jobs in /metrics, as JSON.',
        tags: ['jobs'],
        security: [{ bearer: [] }],
        response: { 200: QueueDepths, 401: Problem, 403: Problem, 503: Problem },
      },
    },
    async () => {
      const queues = await Promise.all(
        ALL_QUEUES.map(async (name) => {
          const queue = queueOf(deps, name);
          const [c, workers] = await Promise.all([
            queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'paused'),
            queue.getWorkersCount(),
          ]);
          return {
            queue: name,
            waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
            active: c.active ?? 0,
            delayed: c.delayed ?? 0,
            failed: c.failed ?? 0,
            paused: c.paused ?? 0,
            workers,
          };
        }),
      );
      return { queues, at: new Date().toISOString() };
    },
  );
};
