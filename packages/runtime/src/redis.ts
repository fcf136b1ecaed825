import { setTimeout as delay } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * `worker`: for BullMQ workers and the writer lock: retries forever so a Redis restart is
 * survived (bullmq requires maxRetriesPerRequest null). `producer`: for the api: fails fast while
 * Redis is down, so requests get 503 + Retry-After instead of hanging.
 */
export function createRedis(url: string, role: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  const common: RedisOptions = {
    connectionName: `datasync-${role}`,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  };
  if (role === 'worker') return new Redis(url, { ...common, maxRetriesPerRequest: null });
  return new Redis(url, {
    ...common,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
  });
}

/** BullMQ needs `maxmemory-policy noeviction`: evicted job keys are lost jobs. Says so loudly. */
export async function checkRedisPolicy(redis: Redis, logger: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.error(
        { policy },
        'Redis maxmemory-policy is not noeviction: under memory pressure Redis would silently drop queued jobs. Set maxmemory-policy noeviction.',
      );
    }
    const aof = (await redis.config('GET', 'appendfsync')) as string[];
    if (aof[1] && aof[1] !== 'always') {
      logger.warn(
        { appendfsync: aof[1] },
        'Redis appendfsync is not "always": a Redis crash can lose up to a second of accepted batches (use ?wait=true when that matters)',
      );
    }
  } catch (error) {
    // Managed Redis services often forbid CONFIG: not fatal, but say we could not check.
    logger.warn(
      { err: (error as Error).message },
      'could not read Redis configuration to check maxmemory-policy',
    );
  }
}

/** Resolves once the connection answers PING, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await delay(200);
    }
  }
}

/**
 * Ends connections without waiting for pending replies (shutdown, after work has stopped, or Redis
 * gone): every command still waiting, and any sent later, fails at once with "Connection is closed".
 */
export function disconnectAll(connections: Redis[]): void {
  for (const connection of connections) {
    const between = connection.status === 'reconnecting';
    connection.disconnect();
    if (between && connection.status !== 'end') endBetweenReconnects(connection);
  }
}

/**
 * Between two reconnect attempts ioredis 5 has no socket to close, so `disconnect()` neither ends
 * the connection nor rejects its queued commands: they would wait forever (redis/ioredis#2169,
 * open). Do what its close handler does for a socket that closes after `disconnect()`.
 */
function endBetweenReconnects(connection: Redis): void {
  const internals = connection as unknown as {
    setStatus?: (status: string) => void;
    flushQueue?: (error: Error) => void;
  };
  internals.setStatus?.call(connection, 'end');
  internals.flushQueue?.call(connection, new Error('Connection is closed.'));
}
