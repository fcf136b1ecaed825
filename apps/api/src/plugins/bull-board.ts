import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { apiKeyAuth } from '../auth/auth.js';
import type { ApiDeps } from '../deps.js';

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
    // Bull Board installs its own error handler; apiKeyAuth answers its problems itself.
    await scope.register(apiKeyAuth, { keys: deps.keys, scope: 'operator', basicChallenge: true });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BASE_PATH });
  });
}
