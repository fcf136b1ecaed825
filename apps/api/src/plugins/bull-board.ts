import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../auth/auth.js';
import type { ApiDeps } from '../deps.js';
import { HttpProblem } from '../errors.js';
import { sendProblem } from './problems.js';

const BASE_PATH = '/admin/queues';

/** Bull Board behind operator auth; browsers get a Basic challenge (any user, the key as password). */
export async function registerBullBoard(app: FastifyInstance, deps: ApiDeps) {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE_PATH);
  createBullBoard({
    queues: [...deps.queues.values()].map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'datasync' } },
  });
  await app.register(async (scope) => {
    // Bull Board's plugin installs its own error handler, so answer auth problems here.
    const check = requireScope(deps.keys, 'operator', { basicChallenge: true });
    scope.addHook('onRequest', async (request, reply) => {
      try {
        await check(request, reply);
      } catch (error) {
        if (error instanceof HttpProblem) return sendProblem(reply, request, error);
        throw error;
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BASE_PATH });
  });
}
