import { Problem } from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';

const HEARTBEAT_MS = 15_000;

/**
 * `GET /v1/events`: server-sent events for the dashboard (`commit`, `job`, `alert`). Every client
 * shares the api's one subscription (LiveEvents); a comment line every 15 s keeps proxies and the
 * idle timeout from closing a quiet stream.
 */
export const eventsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/events',
    {
      schema: {
        summary: 'Live events (server-sent events): commits, job progress and results, alerts',
        description:
          'text/event-stream. `event: commit` with {sources:[{source, rows, rejected}], version, at} at most every 250 ms while batches commit; `event: job` with {queue, jobId, state, progress?}; `event: alert`. Figures that depend on the sales are worth reading again after a commit event, and only then.',
        tags: ['dashboard'],
        security: [{ bearer: [] }],
        response: { 401: Problem, 403: Problem },
      },
    },
    async (request, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no', // nginx: pass each event on at once
      });
      const stop = await deps.live.listen((event) => {
        res.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
      });
      res.write(`retry: 3000\n: connected\n\n`);
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      const end = () => {
        clearInterval(heartbeat);
        stop();
      };
      request.raw.on('close', end);
      res.on('error', end);
    },
  );
};
