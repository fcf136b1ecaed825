import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startLocalRedis, tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { makeStack, sales, sumOf } from './e2e-helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Redis restarted under the workers', () => {
  it('the sync-worker reconnects and resumes consuming; accepted batches survive (AOF, appendfsync always)', async () => {
    const dir = tempDir('datasync-redis-restart-');
    cleanups.push(dir.cleanup);
    const redisDir = join(dir.path, 'redis');
    let redis = await startLocalRedis({ dir: redisDir, appendfsync: 'always' });
    cleanups.push(() => redis.stop());
    const stack = await makeStack({ REDIS_URL: redis.url });
    cleanups.push(stack.close);
    await stack.startWorker();

    const before = sales(300, 0);
    expect((await stack.post(before, { 'idempotency-key': 'before' }, '?wait=true')).statusCode).toBe(202);
    // Accepted, then Redis dies hard before the worker could take it (no worker listening meanwhile
    // is not needed: SIGKILL right after the 202 is the worst case for durability).
    const queued = sales(300, 300);
    expect((await stack.post(queued, { 'idempotency-key': 'queued' })).statusCode).toBe(202);
    redis.process.kill('SIGKILL');
    await new Promise((r) => redis.process.once('exit', r));
    expect((await stack.post(sales(1, 9999))).statusCode).toBe(503);

    redis = await startLocalRedis({ dir: redisDir, port: redis.port, appendfsync: 'always' });
    const after = sales(300, 600);
    let status = 0;
    for (let i = 0; i < 50 && status !== 202; i++) {
      status = (await stack.post(after, { 'idempotency-key': 'after' })).statusCode;
      if (status !== 202) await delay(200);
    }
    expect(status).toBe(202);
    await stack.drained();
    const totals = await stack.totals();
    expect(totals.rows).toBe(900);
    expect(totals.totalAmount).toBe(sumOf([...before, ...queued, ...after]));
  });
});
