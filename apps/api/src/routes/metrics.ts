import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { unauthorized } from '../errors.js';
import { apiMetrics, gatherStackMetrics } from '../metrics-view.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * `GET /metrics`: Prometheus text for the whole stack. The api's own metrics (process, queue depth
 * by state, ages of the last sync and backup) merged with what every worker published to Redis in
 * the last few seconds (docs/monitoring.md). Open, or Bearer METRICS_TOKEN when that is set.
 */
export const metricsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const metrics = apiMetrics(deps.queues, deps.redis);
  const token = deps.config.METRICS_TOKEN ? digest(deps.config.METRICS_TOKEN) : null;

  // Its own token, not an API key (a Prometheus scraper holds no key): a hook of this plugin only.
  if (token) {
    app.addHook('onRequest', async (request) => {
      const header = request.headers.authorization ?? '';
      const presented = header.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : '';
      if (!presented || !timingSafeEqual(digest(presented), token))
        throw unauthorized('GET /metrics wants Authorization: Bearer <METRICS_TOKEN>');
    });
  }

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics of the whole stack (text exposition format)',
        description:
          'No auth unless METRICS_TOKEN is set, then `Authorization: Bearer <token>`. Workers’ metrics reach it through Redis; see docs/monitoring.md for every metric.',
        tags: ['health'],
      },
    },
    async (_request, reply) => {
      const { contentType, text } = await gatherStackMetrics(deps.redis, metrics.registry);
      return reply.type(contentType).send(text);
    },
  );
};
