import { beginScheduledRun, QUEUE_PREFIX, SCHEDULE_KEYS } from '@datasync/runtime';
import { QUEUES, SchedulesBody } from '@datasync/schemas';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { auth, INGEST_KEY, makeApi, OPERATOR_KEY } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('GET /v1/schedules', () => {
  it('shows each schedule with its cron, zone, next run, last run and skipped runs', async () => {
    const built = await makeApi();
    cleanups.push(built.close);
    const { app, deps } = built;
    const health = deps.queues.get(QUEUES.health)!;
    // What the scheduler writes, and a stray scheduler it would remove.
    await health.upsertJobScheduler(
      'health-check',
      { pattern: '0 * * * *', tz: 'Europe/Berlin' },
      { name: 'health-check' },
    );
    await deps.queues
      .get(QUEUES.backup)!
      .upsertJobScheduler('backup', { pattern: '0 3 * * *', tz: 'Europe/Berlin' }, { name: 'backup' });
    await deps.queues.get(QUEUES.reports)!.upsertJobScheduler('legacy-report', { pattern: '0 6 * * *' });
    // A health-check run goes through the overlap guard, as the worker's does.
    const connection = new Redis(built.redisUrl, { maxRetriesPerRequest: null });
    cleanups.push(() => connection.disconnect());
    const worker = new Worker(
      QUEUES.health,
      async (job: Job) => (await beginScheduledRun(job, { redis: connection })) ?? { status: 'ok' },
      { connection, prefix: QUEUE_PREFIX },
    );
    cleanups.push(() => worker.close());
    await health.add('health-check', {}, { jobId: 'catchup-health-check-1700000000000' });
    await new Promise<void>((resolve) => worker.on('completed', () => resolve()));
    await deps.redis.hincrby(SCHEDULE_KEYS.skips, 'health-check', 2);

    const res = await app.inject({ method: 'GET', url: '/v1/schedules', headers: auth(OPERATOR_KEY) });
    expect(res.statusCode).toBe(200);
    const body = SchedulesBody.parse(res.json());
    expect(body.schedules.map((s) => s.id)).toEqual([
      'sales-sync',
      'health-check',
      'backup',
      'backup-cleanup',
      'verify-backup',
    ]);
    const check = body.schedules.find((s) => s.id === 'health-check')!;
    expect(check).toMatchObject({
      enabled: true,
      cron: '0 * * * *',
      tz: 'Europe/Berlin',
      queue: 'health',
      variable: 'SCHEDULE_HEALTH_CHECK',
      skippedRuns: 2,
      lastRun: { jobId: 'catchup-health-check-1700000000000', state: 'completed' },
    });
    expect(Date.parse(check.nextRun!)).toBeGreaterThan(Date.now());
    expect(new Date(check.nextRun!).getUTCMinutes()).toBe(0);
    const backup = body.schedules.find((s) => s.id === 'backup')!;
    expect(new Date(backup.nextRun!).toLocaleTimeString('en-GB', { timeZone: 'Europe/Berlin' })).toBe(
      '03:00:00',
    );
    expect(backup.lastRun).toBeNull();
    expect(body.schedules.find((s) => s.id === 'sales-sync')).toMatchObject({
      enabled: false,
      cron: null,
      nextRun: null,
    });
    expect(body.unknown).toEqual([{ id: 'legacy-report', queue: 'reports' }]);
  });

  it('is for operators', async () => {
    const built = await makeApi();
    cleanups.push(built.close);
    expect((await built.app.inject({ method: 'GET', url: '/v1/schedules' })).statusCode).toBe(401);
    const ingest = await built.app.inject({ method: 'GET', url: '/v1/schedules', headers: auth(INGEST_KEY) });
    expect(ingest.statusCode).toBe(403);
  });
});
