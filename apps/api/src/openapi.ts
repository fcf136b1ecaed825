import { createAllQueues, createRedis } from '@datasync/runtime';
import { parseEnvConfig } from '@datasync/schemas';
import { buildApp } from './app.js';
import { ApiKeyStore } from './auth/api-keys.js';
import type { ApiDeps } from './deps.js';
import { LiveEvents } from './live-events.js';

/**
 * The OpenAPI document without a running stack: the routes register and nothing is called, so a
 * Redis client that never connects is enough (loopback port 1 refuses at once).
 */
export async function openApiDocument(): Promise<unknown> {
  const config = parseEnvConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://127.0.0.1:1' });
  const redis = createRedis(config.REDIS_URL, 'producer', { lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  const queues = createAllQueues(redis, config);
  const queueEvents = () => {
    throw new Error('the OpenAPI document needs no queue events');
  };
  const deps: ApiDeps = {
    config,
    redis,
    queues,
    queueEvents,
    keys: new ApiKeyStore([]),
    live: new LiveEvents(config, queueEvents),
  };
  const app = await buildApp(deps);
  await app.ready();
  const document = app.swagger();
  await app.close();
  await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
  redis.disconnect();
  return document;
}
