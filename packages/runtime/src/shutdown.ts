import type { Logger } from 'pino';

export interface Closable {
  name: string;
  close(): Promise<unknown> | unknown;
}

/**
 * SIGTERM/SIGINT: close each part in order (stop taking work first, then locks, databases,
 * connections), flush the logger and exit 0. A second signal forces exit 130.
 * Returns the shutdown function for tests and for fatal paths.
 */
export function installShutdown(logger: Logger, parts: Closable[], options: { timeoutMs?: number } = {}) {
  let stopping = false;
  const shutdown = async (signal: string, code = 0) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: forcing exit');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: options.timeoutMs ?? 30_000 }, 'shutdown took too long: forcing exit');
      process.exit(1);
    }, options.timeoutMs ?? 30_000);
    timer.unref();
    for (const part of parts) {
      try {
        await part.close();
      } catch (error) {
        logger.error({ part: part.name, err: (error as Error).message }, 'error while closing');
      }
    }
    logger.info('stopped');
    logger.flush?.();
    setTimeout(() => process.exit(code), 50).unref();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}
