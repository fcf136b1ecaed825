import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { disconnectAll } from './redis.js';

export interface Closable {
  name: string;
  close(): Promise<unknown> | unknown;
  /**
   * Closes without Redis (the database, S3): still closed, and waited for, when Redis is gone.
   * Other parts are skipped then: all they could do is wait for Redis.
   */
  local?: boolean;
}

export interface ShutdownOptions {
  /** Past this the process exits 1 whatever is still closing (the last resort). */
  timeoutMs?: number;
  /**
   * The process's Redis connections. While Redis is gone, a part that waits on it (a worker
   * acknowledging its job) waits forever: once any of these has not been ready for `redisGraceMs`
   * during a shutdown, Redis is given up on (see `installShutdown`).
   */
  redis?: Redis[];
  /**
   * Ended when Redis is given up on, so every command waiting on them fails at once: the writer
   * lock's connection (a transaction that cannot confirm its lease rolls back, and the database
   * closes). Not a BullMQ worker's connection: while closing, BullMQ retries a failed
   * acknowledgement without a pause (bullmq 5.81 `retryIfFailed`), which would spin forever.
   */
  endWhenRedisGone?: Redis[];
  /** How long a shutdown waits for Redis to come back (a restart) before giving up on it. */
  redisGraceMs?: number;
}

/** Resolves once any of `connections` has not been ready for `graceMs` in a row. */
function redisLost(connections: Redis[], graceMs: number): { lost: Promise<void>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<void>((resolve) => {
    if (connections.length === 0) return;
    let downSince: number | null = null;
    // Polling the status is enough: a shutdown lasts seconds, and ioredis has no single event for "down".
    timer = setInterval(() => {
      if (connections.every((c) => c.status === 'ready')) {
        downSince = null;
        return;
      }
      downSince ??= Date.now();
      if (Date.now() - downSince >= graceMs) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    timer.unref();
  });
  return { lost, stop: () => clearInterval(timer) };
}

const CONNECTION_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * While shutting down, a Redis connection that fails as it is torn down must not turn a clean stop
 * into a crash: BullMQ re-emits a failed connection setup as an 'error' event on a connection
 * whose listeners its close() already removed (bullmq 5.81 RedisConnection), which Node throws.
 * Anything else still ends the process with code 1, as it would have.
 */
function tearDownError(logger: Logger, error: Error & { code?: string }) {
  if (CONNECTION_ERRORS.has(error.code ?? '') || error.message === 'Connection is closed.') {
    logger.warn({ err: error.message }, 'connection error while shutting down: ignored');
    return;
  }
  logger.error({ err: error.message, stack: error.stack }, 'uncaught error while shutting down');
  logger.flush?.();
  process.exit(1);
}

/**
 * SIGTERM/SIGINT: close each part in order (stop taking work first, then locks, databases,
 * connections), flush the logger and exit 0. A second signal forces exit 130.
 *
 * With Redis gone the shutdown is still prompt and leaves nothing half-done: after `redisGraceMs`
 * it ends the `endWhenRedisGone` connections, stops waiting for the part under way, closes the
 * remaining `local` parts (the database: a transaction that could not confirm its lease is
 * rolled back, never committed) and exits 0. Jobs whose finish could not be recorded stay
 * active in Redis and are redelivered once it is back; the ingest ledger makes a rerun a no-op.
 * Returns the shutdown function for tests and for fatal paths.
 */
export function installShutdown(logger: Logger, parts: Closable[], options: ShutdownOptions = {}) {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const redisGraceMs = options.redisGraceMs ?? 2_000;
  let stopping = false;
  const shutdown = async (signal: string, code = 0) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: forcing exit');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    process.on('uncaughtException', (error) => tearDownError(logger, error));
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took too long: forcing exit');
      process.exit(1);
    }, timeoutMs);
    timer.unref();

    const watch = redisLost(options.redis ?? [], redisGraceMs);
    let redisGone = false;
    const gone = watch.lost.then(() => {
      redisGone = true;
      logger.warn(
        { graceMs: redisGraceMs },
        'Redis is unreachable: closing only what does not need it; jobs in flight stay unacknowledged and are redelivered once it is back',
      );
      disconnectAll(options.endWhenRedisGone ?? []);
      return 'gone' as const;
    });
    const skipped: string[] = [];
    for (const part of parts) {
      if (redisGone && !part.local) {
        skipped.push(part.name);
        continue;
      }
      const closing = (async () => part.close())().then(
        () => 'closed' as const,
        (error: Error) => {
          logger.error({ part: part.name, err: error.message }, 'error while closing');
          return 'closed' as const;
        },
      );
      // A local part is waited for even when Redis goes; any other stops being waited for then.
      if ((await (part.local ? closing : Promise.race([closing, gone]))) === 'gone') skipped.push(part.name);
    }
    watch.stop();
    logger.info(redisGone ? { redisReachable: false, notWaitedFor: skipped } : {}, 'stopped');
    logger.flush?.();
    setTimeout(() => process.exit(code), 50).unref();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}
