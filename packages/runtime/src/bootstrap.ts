import type { EnvConfig } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadConfigOrExit } from './config.js';
import { createLogger } from './logger.js';
import { checkRedisPolicy, createRedis, disconnectAll } from './redis.js';
import { type Closable, installShutdown } from './shutdown.js';

/** What every process starts with: its config (a bad one exits 78 naming the variable) and logger. */
export interface ProcessBoot {
  config: EnvConfig;
  logger: Logger;
}

export function bootProcess(name: string): ProcessBoot {
  const config = loadConfigOrExit(name);
  const logger = createLogger(name, {
    level: config.LOG_LEVEL,
    file: config.LOG_FILE,
    format: config.LOG_FORMAT,
  });
  return { config, logger };
}

export interface WorkerBoot extends ProcessBoot {
  /** The BullMQ connection (workers, queues): errors are logged, the Redis policy checked once ready. */
  connection: Redis;
  /**
   * A second connection for leases (writer lock, leadership), when asked for: ended at once when
   * Redis is given up on during a shutdown, so a transaction waiting on it rolls back.
   */
  lockRedis: Redis;
  /**
   * Shuts down on SIGTERM/SIGINT: `parts` in order, then the Redis connections; promptly even with
   * Redis gone (see installShutdown).
   */
  shutdownWith(parts: Closable[]): void;
}

/**
 * The preamble every worker process (sync-worker, backup-worker, scheduler) shares, so each
 * main.ts only wires its own components.
 */
export function bootWorker(name: string, options: { lockConnection: true }): WorkerBoot;
export function bootWorker(name: string, options?: { lockConnection?: false }): Omit<WorkerBoot, 'lockRedis'>;
export function bootWorker(
  name: string,
  options: { lockConnection?: boolean } = {},
): Omit<WorkerBoot, 'lockRedis'> & { lockRedis?: Redis } {
  const { config, logger } = bootProcess(name);
  const connection = createRedis(config.REDIS_URL, 'worker');
  connection.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
  connection.once('ready', () => void checkRedisPolicy(connection, logger));
  let lockRedis: Redis | undefined;
  if (options.lockConnection) {
    lockRedis = createRedis(config.REDIS_URL, 'worker');
    lockRedis.on('error', () => undefined); // the lease holders report what a lost connection means
  }
  const redis = lockRedis ? [connection, lockRedis] : [connection];
  const shutdownWith = (parts: Closable[]) =>
    installShutdown(logger, [...parts, { name: 'redis', close: () => disconnectAll(redis) }], {
      redis,
      ...(lockRedis ? { endWhenRedisGone: [lockRedis] } : {}),
    });
  return { config, logger, connection, shutdownWith, ...(lockRedis ? { lockRedis } : {}) };
}
