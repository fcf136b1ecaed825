import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { QUEUE_PREFIX, waitForRedis } from '@datasync/runtime';
import { parseEnvConfig, QUEUES } from '@datasync/schemas';
import { startLocalRedis, tempDir } from '@datasync/testkit';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { buildApp, createApiDeps, loadApiKeys } from '../src/index.js';
import { auth, INGEST_KEY, OPERATOR_KEY, sales } from './helpers.js';

describe('a retry with the same Idempotency-Key and ?wait=true', () => {
  it('waits for the commit like the first request, instead of answering before it', async () => {
    const dir = tempDir('datasync-replay-wait-');
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    const config = parseEnvConfig({
      REDIS_URL: redis.url,
      IMPORT_DIR: join(dir.path, 'imports'),
      API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
      WAIT_TIMEOUT_MS: '10000',
    });
    const api = createApiDeps(config, loadApiKeys(config).store);
    await waitForRedis(api.deps.redis);
    const app = await buildApp(api.deps);
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    // The sync-worker's part: the commit happens when the test says so.
    let commit!: () => void;
    const committed = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const worker = new Worker(
      QUEUES.ingest,
      async (job) => {
        await committed;
        return {
          batchId: job.id,
          stored: 2,
          rejected: 0,
          duplicate: false,
          committedAt: new Date().toISOString(),
        };
      },
      { connection, prefix: QUEUE_PREFIX },
    );
    const post = (wait: boolean) =>
      app.inject({
        method: 'POST',
        url: `/v1/sales/batches${wait ? '?wait=true' : ''}`,
        headers: { 'content-type': 'application/json', 'idempotency-key': 'retry-1', ...auth(INGEST_KEY) },
        payload: JSON.stringify(sales(2)),
      });
    try {
      await worker.waitUntilReady();
      const first = await post(false);
      expect(first.statusCode).toBe(202);
      expect(first.json()).not.toHaveProperty('committed');
      let answered = false;
      const retry = post(true).then((res) => {
        answered = true;
        return res;
      });
      await delay(500);
      expect(answered).toBe(false);
      commit();
      const res = await retry;
      expect(res.statusCode).toBe(202);
      expect(res.headers['idempotent-replayed']).toBe('true');
      expect(res.json()).toMatchObject({ batchId: first.json().batchId, committed: true, duplicate: false });
      // Without wait, a retry still answers at once with the first receipt.
      const plain = await post(false);
      expect(plain.json()).toEqual(first.json());
    } finally {
      await worker.close();
      connection.disconnect();
      await app.close();
      await api.close();
      await redis.stop();
      dir.cleanup();
    }
  });
});
