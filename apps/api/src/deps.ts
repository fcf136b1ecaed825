import { createAllQueues, createQueueEvents, createRedis } from '@datasync/runtime';
import type { EnvConfig, QueueName } from '@datasync/schemas';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiKeyStore } from './auth/api-keys.js';

/** What the api's plugins are built from: passed as plugin options, so tests build them directly. */
export interface ApiDeps {
  config: EnvConfig;
  redis: Redis;
  queues: Map<QueueName, Queue>;
  queueEvents: (name: QueueName) => QueueEvents;
  keys: ApiKeyStore;
}

export function queueOf(deps: ApiDeps, name: QueueName): Queue {
  const queue = deps.queues.get(name);
  if (!queue) throw new Error(`queue ${name} is not configured`);
  return queue;
}

/** Builds the api's connections from config; `close` ends them (queues, events, Redis). */
export function createApiDeps(
  config: EnvConfig,
  keys: ApiKeyStore,
): { deps: ApiDeps; close: () => Promise<void> } {
  const redis = createRedis(config.REDIS_URL, 'producer');
  redis.on('error', () => undefined); // surfaced per request as 503; ioredis reconnects by itself
  const queues = createAllQueues(redis, config);
  const eventConnections: Redis[] = [];
  const events = new Map<QueueName, QueueEvents>();
  const queueEvents = (name: QueueName) => {
    let qe = events.get(name);
    if (!qe) {
      const connection = createRedis(config.REDIS_URL, 'worker');
      connection.on('error', () => undefined);
      eventConnections.push(connection);
      qe = createQueueEvents(name, connection);
      events.set(name, qe);
    }
    return qe;
  };
  const close = async () => {
    await Promise.all([...events.values()].map((e) => e.close()));
    await Promise.all([...queues.values()].map((q) => q.close()));
    for (const r of [redis, ...eventConnections]) r.disconnect();
  };
  return { deps: { config, redis, queues, queueEvents, keys }, close };
}
