import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { waitForRedis } from '@datasync/runtime';
import { parseEnvConfig, QUEUES } from '@datasync/schemas';
import { startLocalRedis, tempDir } from '@datasync/testkit';
import { describe, expect, it } from 'vitest';
import { buildApp, createApiDeps, loadApiKeys } from '../src/index.js';
import { IdempotencyStore } from '../src/ingest/idempotency.js';
import { sha256 } from '../src/ingest/parse-body.js';
import { INGEST_KEY, makeApi, OPERATOR_KEY, sales } from './helpers.js';

/** How long a request may take while Redis is paused: generous, it is "does not hang" that counts. */
const BOUND_MS = 8_000;

describe('a paused Redis (SIGSTOP: the same as a hung server or a partition)', () => {
  it('gets 503 + Retry-After within a bound instead of a hang; after SIGCONT the retry is accepted once, nothing lost or doubled', async () => {
    const dir = tempDir('datasync-paused-');
    // A redis-server of its own: the suite's shared one must not be paused.
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    const config = parseEnvConfig({
      REDIS_URL: redis.url,
      IMPORT_DIR: join(dir.path, 'imports'),
      API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
      REDIS_COMMAND_TIMEOUT_MS: '500',
    });
    const { deps, close } = createApiDeps(config, loadApiKeys(config).store);
    await waitForRedis(deps.redis);
    const app = await buildApp(deps);
    const post = (body: unknown[], key: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/sales/batches',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${INGEST_KEY}`,
          'idempotency-key': key,
        },
        payload: JSON.stringify(body),
      });
    const timed = async <T>(request: Promise<T>) => {
      const started = Date.now();
      const result = await request;
      expect(Date.now() - started).toBeLessThan(BOUND_MS);
      return result;
    };
    const before = sales(3, 100);
    const during = sales(4, 200);
    let resumed = false;
    try {
      expect((await post(before, 'before')).statusCode).toBe(202);

      redis.process.kill('SIGSTOP');
      const paused = await timed(post(during, 'during'));
      expect(paused.statusCode).toBe(503);
      expect(Number(paused.headers['retry-after'])).toBeGreaterThan(0);
      expect(paused.json().detail).toMatch(/Redis\) is unavailable/);
      const ready = await timed(app.inject({ url: '/ready' }));
      expect(ready.statusCode).toBe(503);
      expect(ready.json().redis).toBe('down');
      const report = await timed(
        app.inject({ url: '/v1/rejects', headers: { authorization: `Bearer ${OPERATOR_KEY}` } }),
      );
      expect(report.statusCode).toBe(503);
      // A second try while still paused: also answered, not hung.
      expect((await timed(post(during, 'during'))).statusCode).toBe(503);

      redis.process.kill('SIGCONT');
      resumed = true;
      // The client retries the batch that got 503 with the same key: accepted, exactly once.
      let retry = await post(during, 'during');
      for (let i = 0; i < 50 && retry.statusCode !== 202; i++) {
        await delay(200);
        retry = await post(during, 'during');
      }
      expect(retry.statusCode).toBe(202);
      expect(retry.json()).toMatchObject({ received: 4, accepted: 4 });
      expect((await post(sales(2, 300), 'after')).statusCode).toBe(202);

      const queue = deps.queues.get(QUEUES.ingest)!;
      const jobs = await queue.getJobs(['waiting']);
      const stored = jobs.flatMap((j) => j.data.sales as unknown[]);
      expect(jobs).toHaveLength(3);
      expect(stored).toHaveLength(3 + 4 + 2);
      expect((await app.inject({ url: '/ready' })).json().redis).toBe('ok');
    } finally {
      if (!resumed) redis.process.kill('SIGCONT');
      await app.close();
      await close();
      await redis.stop();
      dir.cleanup();
    }
  });

  it('an enqueue that timed out but ran once Redis resumed: the retry reuses its batch id, so the batch is queued once', async () => {
    const api = await makeApi();
    try {
      const body = JSON.stringify(sales(3, 400));
      const store = new IdempotencyStore({ redis: api.deps.redis, ttlSeconds: 3600 });
      // What the failed request left: its record, its job (the add ran late), its release.
      const first = await store.begin('shop', 'late-add', sha256(body));
      if (first.kind !== 'new') throw new Error('expected a new record');
      const queue = api.deps.queues.get(QUEUES.ingest)!;
      await queue.add('sales-batch', { batchId: first.batchId, sales: [] }, { jobId: first.batchId });
      await store.release(first);
      const retry = await api.app.inject({
        method: 'POST',
        url: '/v1/sales/batches',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${INGEST_KEY}`,
          'idempotency-key': 'late-add',
        },
        payload: body,
      });
      expect(retry.statusCode).toBe(202);
      expect(retry.json().batchId).toBe(first.batchId);
      expect(await queue.getJobCountByTypes('waiting')).toBe(1);
    } finally {
      await api.close();
    }
  });
});
