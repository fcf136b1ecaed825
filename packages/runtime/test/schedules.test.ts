import { QUEUES, type SkippedRun } from '@datasync/schemas';
import { isolatedRedisUrl, waitFor } from '@datasync/testkit';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  beginScheduledRun,
  catchUpJobId,
  Metrics,
  QUEUE_PREFIX,
  readScheduleRecords,
  SCHEDULE_KEYS,
  scheduleIdOfJob,
} from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('scheduled runs', () => {
  it('knows the schedule of a scheduler iteration and of a catch-up run, and of nothing else', () => {
    expect(scheduleIdOfJob({ id: 'repeat:backup:1700000000000', repeatJobKey: 'backup' })).toBe('backup');
    expect(scheduleIdOfJob({ id: catchUpJobId('backup-cleanup', 1700000000000) })).toBe('backup-cleanup');
    expect(scheduleIdOfJob({ id: 'f4b5c1de-1111-4b2e-9a3c-2f0c1d2e3f4a' })).toBeNull();
  });

  it('a run whose previous run is still active is skipped and the skip recorded; later runs go ahead', async () => {
    const url = await isolatedRedisUrl(inject('redisUrl'));
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    cleanups.push(() => connection.disconnect());
    const queue = new Queue(QUEUES.health, { connection, prefix: QUEUE_PREFIX });
    cleanups.push(() => queue.close());
    const metrics = new Metrics('test');
    const ran: string[] = [];
    let release: () => void = () => undefined;
    const firstRunHeld = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Two workers: the second picks up the next run while the first is still busy with its run.
    const processor = async (job: Job) => {
      const skipped = await beginScheduledRun(job, { redis: connection, metrics });
      if (skipped) return skipped;
      ran.push(job.id!);
      if (ran.length === 1) await firstRunHeld;
      return { ok: true };
    };
    for (let i = 0; i < 2; i++) {
      const worker = new Worker(QUEUES.health, processor, { connection, prefix: QUEUE_PREFIX });
      worker.on('error', () => undefined);
      cleanups.push(() => worker.close());
    }
    await queue.add('health-check', {}, { jobId: catchUpJobId('health-check', 1000) });
    await waitFor(() => ran.length === 1, { what: 'the first run to start' });
    await queue.add('health-check', {}, { jobId: catchUpJobId('health-check', 2000) });
    const second = await waitFor(async () => {
      const job = await queue.getJob(catchUpJobId('health-check', 2000));
      return job?.returnvalue as SkippedRun | undefined;
    });
    expect(second).toEqual({
      skipped: true,
      reason: expect.stringMatching(/previous run of schedule health-check .* is still active/),
      schedule: 'health-check',
      activeJobId: catchUpJobId('health-check', 1000),
    });
    release();
    await waitFor(async () => (await queue.getJobState(catchUpJobId('health-check', 1000))) === 'completed');
    await queue.add('health-check', {}, { jobId: catchUpJobId('health-check', 3000) });
    await waitFor(() => ran.length === 2, { what: 'the third run to go ahead' });
    const records = await readScheduleRecords(connection);
    expect(records.skips.get('health-check')).toBe(1);
    expect(records.lastRuns.get('health-check')?.jobId).toBe(catchUpJobId('health-check', 3000));
    expect(await connection.llen(SCHEDULE_KEYS.skipLog)).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('datasync_schedule_skipped_runs_total')).toMatch(
      /schedule="health-check"} 1/,
    );
  });

  it('a job that no schedule started is left alone', async () => {
    const url = await isolatedRedisUrl(inject('redisUrl'));
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    cleanups.push(() => connection.disconnect());
    const job = { id: 'abc-123', queueQualifiedName: 'datasync:health' } as Job;
    expect(await beginScheduledRun(job, { redis: connection })).toBeNull();
    expect((await readScheduleRecords(connection)).lastRuns.size).toBe(0);
  });
});
