import type { EnvConfig } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import { DatabaseWriter, type WriterLogger, type WriterObserver } from './writer.js';
import { WriterLock } from './writer-lock.js';

/** The writer lock and this process's DuckDB writer as the configuration says, for each worker's main.ts. */
export function createWriterFromConfig(
  config: Pick<
    EnvConfig,
    | 'DATABASE_PATH'
    | 'WRITER_LOCK_LEASE_MS'
    | 'WRITER_LOCK_IDLE_RELEASE_MS'
    | 'DUCKDB_THREADS'
    | 'DUCKDB_MEMORY_LIMIT'
  >,
  deps: { redis: Redis; logger: WriterLogger; observer?: WriterObserver },
): { writer: DatabaseWriter; lock: WriterLock } {
  const lock = new WriterLock({ redis: deps.redis, leaseMs: config.WRITER_LOCK_LEASE_MS });
  const writer = new DatabaseWriter({
    path: config.DATABASE_PATH,
    lock,
    logger: deps.logger,
    idleReleaseMs: config.WRITER_LOCK_IDLE_RELEASE_MS,
    ...(deps.observer ? { observer: deps.observer } : {}),
    duckdbOptions: {
      ...(config.DUCKDB_THREADS > 0 ? { threads: String(config.DUCKDB_THREADS) } : {}),
      ...(config.DUCKDB_MEMORY_LIMIT ? { memory_limit: config.DUCKDB_MEMORY_LIMIT } : {}),
    },
  });
  return { writer, lock };
}
