import { QUEUE_PREFIX } from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, INGEST_KEY, makeApi, OPERATOR_KEY } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
let connection: Redis;
beforeAll(async () => {
  api = await makeApi();
  connection = new Redis(api.redisUrl, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  connection.disconnect();
  await api.close();
});

const get = (key = OPERATOR_KEY) => api.app.inject({ method: 'GET', url: '/v1/queues', headers: auth(key) });

describe('GET /v1/queues', () => {
  it('counts the jobs per queue and state and the workers listening', async () => {
    const queue = new Queue(QUEUES.salesSync, { connection, prefix: QUEUE_PREFIX });
    await queue.add('sales-sync', {});
    await queue.add('sales-sync', {}, { priority: 5 });
    await queue.add('sales-sync', {}, { delay: 60_000 });
    const worker = new Worker(QUEUES.backup, async () => undefined, { connection, prefix: QUEUE_PREFIX });
    await worker.waitUntilReady();
    try {
      const res = await get();
      expect(res.statusCode).toBe(200);
      const byName = Object.fromEntries(res.json().queues.map((q: { queue: string }) => [q.queue, q]));
      expect(Object.keys(byName).sort()).toEqual(Object.values(QUEUES).sort());
      expect(byName[QUEUES.salesSync]).toEqual({
        queue: QUEUES.salesSync,
        waiting: 2,
        active: 0,
        delayed: 1,
        failed: 0,
        paused: 0,
        workers: 0,
      });
      expect(byName[QUEUES.backup].workers).toBe(1);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('needs the operator scope', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/v1/queues' })).statusCode).toBe(401);
    expect((await get(INGEST_KEY)).statusCode).toBe(403);
  });
});
