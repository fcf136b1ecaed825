import { join } from 'node:path';
import { createAllQueues } from '@datasync/runtime';
import { ALL_QUEUES, type QueueName } from '@datasync/schemas';
import { isolatedRedisUrl, spawnNode } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

const cleanups: (() => unknown)[] = [];
export async function runCleanups() {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** A Redis database of its own with every queue on it, as the scheduler sees them. */
export async function makeRedis() {
  const url = await isolatedRedisUrl(inject('redisUrl'));
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const queues = createAllQueues(redis, { JOB_ATTEMPTS: 1, JOB_BACKOFF_MS: 10 });
  cleanups.push(() => redis.disconnect());
  cleanups.push(() => Promise.all([...queues.values()].map((q) => q.close())));
  return { url, redis, queues };
}

/** Starts the built scheduler and waits until it has reconciled; returns the process. */
export async function startScheduler(redisUrl: string, env: Record<string, string> = {}) {
  const child = spawnNode(MAIN, { REDIS_URL: redisUrl, LOG_LEVEL: 'info', ...env });
  cleanups.push(() => child.kill('SIGKILL'));
  await child.waitForOutput(/"msg":"scheduler started"/, 30_000);
  return child;
}

export function runScheduler(redisUrl: string, env: Record<string, string> = {}) {
  const child = spawnNode(MAIN, { REDIS_URL: redisUrl, LOG_LEVEL: 'info', ...env });
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

/** Schedulers and the runs waiting for them (delayed, waiting, prioritized), per queue. */
export async function countTimetable(queues: Map<QueueName, import('bullmq').Queue>) {
  const schedulers: { id: string; queue: string; pattern?: string; tz?: string; next?: number }[] = [];
  const pending: { id: string; queue: string; schedule: string | null }[] = [];
  for (const name of ALL_QUEUES) {
    const queue = queues.get(name)!;
    for (const s of await queue.getJobSchedulers(0, -1, true)) {
      schedulers.push({ id: s.key, queue: name, pattern: s.pattern, tz: s.tz, next: s.next });
    }
    for (const job of await queue.getJobs(['delayed', 'waiting', 'prioritized', 'paused'])) {
      pending.push({ id: job.id!, queue: name, schedule: job.repeatJobKey ?? null });
    }
  }
  return { schedulers, pending };
}
