import { ALL_QUEUES, HealthBody, ReadyBody } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type ApiDeps, queueOf } from '../deps.js';

const started = Date.now();

/** `GET /health` (the process answers) and `GET /ready` (Redis answers, each queue has a worker). */
export const healthRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/health',
    { schema: { summary: 'Liveness', tags: ['health'], response: { 200: HealthBody } } },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round((Date.now() - started) / 1000) }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: Redis reachable and at least one worker on every queue',
        tags: ['health'],
        response: { 200: ReadyBody, 503: ReadyBody },
      },
    },
    async (_request, reply) => {
      const body: ReadyBody = { status: 'ready', redis: 'ok', queues: {} };
      try {
        await deps.redis.ping();
      } catch {
        body.redis = 'down';
      }
      for (const name of ALL_QUEUES) {
        const workers =
          body.redis === 'ok'
            ? await queueOf(deps, name)
                .getWorkersCount()
                .catch(() => 0)
            : 0;
        body.queues[name] = { workers, ok: workers > 0 };
      }
      if (body.redis === 'down' || Object.values(body.queues).some((q) => !q.ok)) {
        body.status = 'not-ready';
        reply.header('retry-after', '5');
        return reply.status(503).send(body);
      }
      return body;
    },
  );
};
