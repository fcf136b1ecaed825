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
