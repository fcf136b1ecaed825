import { join } from 'node:path';
import { QUEUES } from '@datasync/schemas';
import { isolatedRedisUrl, type SpawnedProcess, spawnNode } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createAllQueues } from '../src/index.js';

const WORKER = join(import.meta.dirname, 'fixtures', 'hang-worker.mjs');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('the shared queue worker options (issue 11, item 14)', () => {
  it('a backup job held by a SIGKILLed worker runs again within the writer lease (15 s), not after 60 s of stall detection', async () => {
    const url = await isolatedRedisUrl(inject('redisUrl'));
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    cleanups.push(() => redis.disconnect());
    const queues = createAllQueues(redis, { JOB_ATTEMPTS: 3, JOB_BACKOFF_MS: 10 });
    cleanups.push(() => Promise.all([...queues.values()].map((q) => q.close())));
    // WORKER_LOCK_DURATION_MS at its shipped default (the fixture parses the env like a worker).
    const env = { REDIS_URL: url, QUEUE: QUEUES.backup };
    const start = (hold: boolean) => {
      const p: SpawnedProcess = spawnNode(WORKER, { ...env, HOLD: hold ? '1' : '0' });
      cleanups.push(() => p.kill('SIGKILL'));
      return p;
    };
    const first = start(true);
    await first.waitForOutput(/ready/);
    const job = await queues.get(QUEUES.backup)!.add('backup', {});
    await first.waitForOutput(/took/);
    first.kill('SIGKILL');
    await first.exited();
    const killedAt = Date.now();
    const second = start(false); // the supervisor's restart
    await second.waitForOutput(new RegExp(`took ${job.id}`), 60_000);
    const at = Number(/took \S+ at (\d+)/.exec(second.output())![1]);
    console.log(`backup job re-ran ${at - killedAt} ms after its worker was SIGKILLed (default job lock)`);
    expect(at - killedAt).toBeLessThan(15_000 + 10_000); // the lease plus a generous margin
  }, 90_000);
});
