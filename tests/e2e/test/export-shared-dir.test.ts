import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, createApiDeps, loadApiKeys } from '@datasync/api';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import { startQueueWorker, waitForRedis } from '@datasync/runtime';
import { parseEnvConfig, QUEUES } from '@datasync/schemas';
import { createReportsProcessor, exportsDirOf } from '@datasync/sync-worker';
import { isolatedRedisUrl, tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';

/**
 * Exports need the api and the sync-worker to share IMPORT_DIR; when they do not, or no worker
 * listens, the api says so instead of failing obscurely or hanging.
 */

const OPERATOR_KEY = 'operator-secret-0123456789';
const auth = { authorization: `Bearer ${OPERATOR_KEY}` };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeApi() {
  const dir = tempDir('datasync-export-dir-');
  cleanups.push(dir.cleanup);
  const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
  const config = parseEnvConfig({
    REDIS_URL: redisUrl,
    DATABASE_PATH: join(dir.path, 'db.duckdb'),
    IMPORT_DIR: join(dir.path, 'api-imports'),
    API_KEYS: `ops:operator:${OPERATOR_KEY}`,
    LOG_LEVEL: 'silent',
    WAIT_TIMEOUT_MS: '20000',
  });
  const api = createApiDeps(config, loadApiKeys(config).store);
  await waitForRedis(api.deps.redis);
  const app = await buildApp(api.deps);
  cleanups.push(async () => {
    await app.close();
    await api.close();
  });
  return { app, dir: dir.path, redisUrl, config };
}

/** A reports worker whose IMPORT_DIR is another folder than the api's. */
function startWorkerElsewhere(redisUrl: string, dir: string) {
  const logger = pino({ level: 'silent' });
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const lockRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: join(dir, 'db.duckdb'),
    lock: new WriterLock({ redis: lockRedis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger,
    idleReleaseMs: 0,
  });
  const exportsDir = exportsDirOf(join(dir, 'worker-imports'));
  const worker = startQueueWorker(QUEUES.reports, createReportsProcessor({ writer, exportsDir }), {
    connection,
    config: parseEnvConfig({ REDIS_URL: redisUrl }),
    logger,
  });
  cleanups.push(async () => {
    await worker.close();
    await writer.close();
    connection.disconnect();
    lockRedis.disconnect();
  });
  return { worker, exportsDir };
}

describe('an export when the api and the worker do not share IMPORT_DIR, or no worker listens', () => {
  it('answers 503 at once when no worker listens on the reports queue', async () => {
    const { app } = await makeApi();
    const res = await app.inject({ method: 'GET', url: '/v1/exports/sales', headers: auth });
    expect(res.statusCode).toBe(503);
    expect(res.json().detail).toMatch(/no worker is listening on the reports queue/);
  });

  it('answers 500 naming IMPORT_DIR when the file the worker wrote is not visible to the api', async () => {
    const { app, dir, redisUrl } = await makeApi();
    const { worker, exportsDir } = startWorkerElsewhere(redisUrl, dir);
    await worker.waitUntilReady();
    const res = await app.inject({ method: 'GET', url: '/v1/exports/users?format=parquet', headers: auth });
    expect(res.statusCode, res.body).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().detail).toMatch(/must share IMPORT_DIR/);
    // The worker did write it, in its own folder, where its sweep will find it.
    expect(existsSync(exportsDir) && readdirSync(exportsDir).length).toBe(1);
  });
});
