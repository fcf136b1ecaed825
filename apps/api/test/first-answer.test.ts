import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { QUEUE_PREFIX, waitForRedis } from '@datasync/runtime';
import { parseEnvConfig, QUEUES } from '@datasync/schemas';
import { startLocalRedis, tempDir } from '@datasync/testkit';
import { QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { buildApp, createApiDeps, loadApiKeys } from '../src/index.js';
import { auth, INGEST_KEY, OPERATOR_KEY, sales } from './helpers.js';

const page = { total: 0, limit: 100, offset: 0, items: [] };

describe('an answer that comes before the api listens for it', () => {
  it('is still returned: ?wait=true, the rejects and the backups list read the job state too', async () => {
    // A redis-server of its own: BullMQ counts workers server-wide (CLIENT LIST), and this test's
    // workers must not count for another test file's "no worker listens" case.
    const dir = tempDir('datasync-first-');
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    const redisUrl = redis.url;
    const config = parseEnvConfig({
      REDIS_URL: redisUrl,
      IMPORT_DIR: join(dir.path, 'imports'),
      API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
      WAIT_TIMEOUT_MS: '3000',
    });
    const api = createApiDeps(config, loadApiKeys(config).store);
    await waitForRedis(api.deps.redis);
    // Event readers that are connected but have not issued their first read yet: the state a
    // fresh api is in for a moment, made to last (BullMQ reads the stream from "now").
    const idle = new Map<string, QueueEvents>();
    api.deps.queueEvents = (name) => {
      let qe = idle.get(name);
      if (!qe) {
        qe = new QueueEvents(name, {
          connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
          prefix: QUEUE_PREFIX,
          autorun: false,
        });
        idle.set(name, qe);
      }
      return qe;
    };
    const app = await buildApp(api.deps);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const slow =
      <T>(value: T) =>
      async () => {
        await delay(300);
        return value;
      };
    const workers = [
      new Worker(QUEUES.reports, slow(page), { connection, prefix: QUEUE_PREFIX }),
      new Worker(QUEUES.backup, slow({ backups: [], s3: { configured: false, error: null } }), {
        connection,
        prefix: QUEUE_PREFIX,
      }),
      new Worker(
        QUEUES.ingest,
        slow({
          batchId: 'b',
          stored: 2,
          rejected: 0,
          duplicate: false,
          committedAt: new Date().toISOString(),
        }),
        { connection, prefix: QUEUE_PREFIX },
      ),
    ];
    try {
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      const rejects = await app.inject({ url: '/v1/rejects', headers: auth(OPERATOR_KEY) });
      expect(rejects.statusCode).toBe(200);
      expect(rejects.json()).toEqual(page);
      const backups = await app.inject({ url: '/v1/backups', headers: auth(OPERATOR_KEY) });
      expect(backups.statusCode).toBe(200);
      const batch = await app.inject({
        method: 'POST',
        url: '/v1/sales/batches?wait=true',
        headers: { 'content-type': 'application/json', ...auth(INGEST_KEY) },
        payload: JSON.stringify(sales(2)),
      });
      expect(batch.statusCode).toBe(202);
      expect(batch.json()).toMatchObject({ committed: true, duplicate: false });
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all([...idle.values()].map((q) => q.close()));
      connection.disconnect();
      await app.close();
      await api.close();
      await redis.stop();
      dir.cleanup();
    }
  });
});
