import { join } from 'node:path';
import { buildApp, createApiDeps, loadApiKeys } from '@datasync/api';
import { DatabaseWriter, salesTotals, WriterLock } from '@datasync/db';
import { waitForRedis } from '@datasync/runtime';
import { parseEnvConfig, QUEUES } from '@datasync/schemas';
import {
  isolatedRedisUrl,
  type SpawnedProcess,
  spawnNode,
  tempDir,
  testSale,
  waitFor,
} from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { inject } from 'vitest';

export const INGEST_KEY = 'ingest-secret-0123456789';
const WORKER = join(import.meta.dirname, '..', '..', '..', 'apps', 'sync-worker', 'dist', 'main.js');

/**
 * A whole ingest path for one test: the api in-process (real HTTP handling via inject), real
 * sync-worker processes started from the built dist, their own Redis database and temp folder,
 * and timers shrunk so kill-and-redeliver takes seconds.
 */
export async function makeStack(extraEnv: Record<string, string> = {}) {
  const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
  const dir = tempDir('datasync-e2e-');
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    DATABASE_PATH: join(dir.path, 'data', 'dashboard.duckdb'),
    IMPORT_DIR: join(dir.path, 'imports'),
    BACKUP_DIR: join(dir.path, 'backups'),
    API_KEYS: `shop:ingest:${INGEST_KEY}`,
    LOG_LEVEL: 'info',
    WORKER_LOCK_DURATION_MS: '2000',
    WRITER_LOCK_LEASE_MS: '2000',
    WRITER_LOCK_IDLE_RELEASE_MS: '300',
    JOB_BACKOFF_MS: '200',
    MAX_INGEST_BACKLOG: '100000',
    ...extraEnv,
  };
  const config = parseEnvConfig({ ...env, LOG_LEVEL: 'silent' });
  const api = createApiDeps(config, loadApiKeys(config).store);
  await waitForRedis(api.deps.redis);
  const app = await buildApp(api.deps);
  const workers: SpawnedProcess[] = [];

  const startWorker = async (workerEnv: Record<string, string> = {}) => {
    const worker = spawnNode(WORKER, { ...env, ...workerEnv });
    workers.push(worker);
    await worker.waitForOutput(/sync-worker started/);
    return worker;
  };

  const post = (records: unknown[], headers: Record<string, string> = {}, query = '') =>
    app.inject({
      method: 'POST',
      url: `/v1/sales/batches${query}`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}`, ...headers },
      payload: JSON.stringify(records),
    });

  const queue = api.deps.queues.get(QUEUES.ingest)!;
  const drained = () =>
    waitFor(
      async () => {
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) === 0;
      },
      { timeoutMs: 60_000, what: 'the ingest queue to drain' },
    );

  /** Reads the database the way another process would: through the writer lock. */
  const readDb = async <T>(
    fn: Parameters<DatabaseWriter['read']>[0] extends (c: infer C) => unknown ? (c: C) => Promise<T> : never,
  ) => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const writer = new DatabaseWriter({
      path: env.DATABASE_PATH!,
      lock: new WriterLock({ redis, leaseMs: 2_000 }),
      logger: pino({ level: 'silent' }),
      idleReleaseMs: 0,
    });
    try {
      return await writer.read(fn);
    } finally {
      await writer.close();
      redis.disconnect();
    }
  };
  const totals = () => readDb((conn) => salesTotals(conn));

  const close = async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited()));
    await app.close();
    await api.close();
    dir.cleanup();
  };
  return { env, app, api, queue, post, startWorker, workers, drained, readDb, totals, close };
}

export function sale(i: number, overrides: Record<string, unknown> = {}) {
  return { ...testSale(i), ...overrides };
}

export const sales = (n: number, start = 0) => Array.from({ length: n }, (_, k) => sale(start + k));

export { sumOfTotals as sumOf } from '@datasync/testkit';

/** A logger that says nothing, for the writers a test opens beside the stack. */
export const quietLogger = pino({ level: 'silent' });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
/** Runs `fn` when the file's tests are over (register `runCleanups` in `afterAll`), last in first out. */
export const onCleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
export async function runCleanups() {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}
