import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { waitForRedis } from '@datasync/runtime';
import { parseEnvConfig } from '@datasync/schemas';
import { startLocalRedis, tempDir } from '@datasync/testkit';
import { describe, expect, it } from 'vitest';
import { buildApp, createApiDeps, loadApiKeys } from '../src/index.js';
import { IdempotencyStore } from '../src/ingest/idempotency.js';
import { sha256 } from '../src/ingest/parse-body.js';
import { INGEST_KEY, makeApi, sales } from './helpers.js';

describe('faults at the api', () => {
  it('answers 503 with Retry-After, fast, while Redis is down, and recovers when it is back', async () => {
    const dir = tempDir('datasync-outage-');
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    const config = parseEnvConfig({
      REDIS_URL: redis.url,
      DATABASE_PATH: join(dir.path, 'db.duckdb'),
      API_KEYS: `shop:ingest:${INGEST_KEY}`,
    });
    const { deps, close } = createApiDeps(config, loadApiKeys(config).store);
    await waitForRedis(deps.redis);
    const app = await buildApp(deps);
    const post = () =>
      app.inject({
        method: 'POST',
        url: '/v1/sales/batches',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` },
        payload: JSON.stringify(sales(2, Math.floor(Math.random() * 1e6))),
      });
    try {
      expect((await post()).statusCode).toBe(202);
      redis.process.kill('SIGKILL');
      await new Promise((r) => redis.process.once('exit', r));
      const started = Date.now();
      const down = await post();
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(down.json().detail).toMatch(/Redis\) is unavailable/);
      expect(Date.now() - started).toBeLessThan(5_000);
      const ready = await app.inject({ url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().redis).toBe('down');

      const again = await startLocalRedis({ dir: join(dir.path, 'redis'), port: redis.port });
      try {
        let status = 0;
        for (let i = 0; i < 50 && status !== 202; i++) {
          status = (await post()).statusCode;
          if (status !== 202) await delay(200);
        }
        expect(status).toBe(202);
      } finally {
        await app.close();
        await close();
        await again.stop();
      }
    } finally {
      dir.cleanup();
    }
  });

  it('an api killed between enqueue and answer: the retry with the same Idempotency-Key yields exactly one batch', async () => {
    const api = await makeApi();
    try {
      const body = JSON.stringify(sales(3, 77));
      // The dead api had recorded the key and enqueued the batch, then died before answering.
      const dead = new IdempotencyStore({ redis: api.deps.redis, ttlSeconds: 3600, staleAfterMs: 0 });
      const first = await dead.begin('shop', 'order-9', sha256(body));
      if (first.kind !== 'new') throw new Error('expected a new record');
      const queue = api.deps.queues.get('ingest')!;
      await queue.add('sales-batch', { batchId: first.batchId }, { jobId: first.batchId });
      // The in-flight record is stale (staleAfterMs 0 for the dead one; the api's own default is
      // 30 s, so its retry would first get 409): take it over the way a retry after 30 s does.
      const retry = await dead.begin('shop', 'order-9', sha256(body));
      expect(retry).toMatchObject({ kind: 'new', batchId: first.batchId });
      await queue.add('sales-batch', { batchId: first.batchId }, { jobId: first.batchId });
      expect((await queue.getJobCounts('waiting')).waiting).toBe(1);
      // And the HTTP retry while the first is in flight is told to come back later.
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/sales/batches',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${INGEST_KEY}`,
          'idempotency-key': 'order-9',
        },
        payload: body,
      });
      expect(res.statusCode).toBe(409);
    } finally {
      await api.close();
    }
  });
});
