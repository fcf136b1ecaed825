import { createAllQueues, createQueueEvents, createRedis } from '@datasync/runtime';
import { type EnvConfig, QUEUES, type QueueName } from '@datasync/schemas';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiKeyStore } from './auth/api-keys.js';
import { SessionStore } from './auth/sessions.js';
import { LiveEvents } from './live-events.js';

/** What the api's plugins are built from: passed as plugin options, so tests build them directly. */
export interface ApiDeps {
  config: EnvConfig;
  redis: Redis;
  queues: Map<QueueName, Queue>;
  queueEvents: (name: QueueName) => QueueEvents;
  keys: ApiKeyStore;
  /** Commits and job events for the dashboards (GET /v1/events), read once per api. */
  live: LiveEvents;
}

/** The queues whose results the api waits for (?wait=true, reports, the backups list). */
export const AWAITED_QUEUES: readonly QueueName[] = [QUEUES.ingest, QUEUES.reports, QUEUES.backup];

export function queueOf(deps: ApiDeps, name: QueueName): Queue {
  const queue = deps.queues.get(name);
  if (!queue) throw new Error(`queue ${name} is not configured`);
  return queue;
}

/**
 * Builds the api's connections from config; `close` ends them (queues, events, Redis). The event
 * readers of the awaited queues start here, not on first use; `eventsReady` resolves once they
 * are connected (main.ts waits for it before listening).
 */
export function createApiDeps(
  config: EnvConfig,
  keys: ApiKeyStore,
): { deps: ApiDeps; close: () => Promise<void>; eventsReady: () => Promise<void> } {
  // A command unanswered within REDIS_COMMAND_TIMEOUT_MS fails (503) instead of hanging the
  // request: a paused or partitioned Redis keeps its TCP connection up, so only a timeout tells.
  const redis = createRedis(config.REDIS_URL, 'producer', {
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
  });
  redis.on('error', () => undefined); // surfaced per request as 503; ioredis reconnects by itself
  const queues = createAllQueues(redis, config);
  keys.sessions = new SessionStore(redis, config.SESSION_TTL_MINUTES * 60_000);
  const eventConnections: Redis[] = [];
  const events = new Map<QueueName, QueueEvents>();
  const queueEvents = (name: QueueName) => {
    let qe = events.get(name);
    if (!qe) {
      const connection = createRedis(config.REDIS_URL, 'worker');
      connection.on('error', () => undefined);
      eventConnections.push(connection);
      qe = createQueueEvents(name, connection);
      qe.on('error', () => undefined); // reconnects by itself; waiters also read job states
      events.set(name, qe);
    }
    return qe;
  };
  for (const name of AWAITED_QUEUES) queueEvents(name);
  const eventsReady = async () => {
    await Promise.all(AWAITED_QUEUES.map((name) => queueEvents(name).waitUntilReady()));
  };
  const live = new LiveEvents(config, queueEvents);
  const close = async () => {
    await live.close();
    await Promise.all([...events.values()].map((e) => e.close()));
    await Promise.all([...queues.values()].map((q) => q.close()));
    for (const r of [redis, ...eventConnections]) r.disconnect();
  };
  return { deps: { config, redis, queues, queueEvents, keys, live }, close, eventsReady };
}
