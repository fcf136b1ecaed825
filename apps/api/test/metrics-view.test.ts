import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createAllQueues,
  LAST_SUCCESS_KEY,
  Metrics,
  MetricsPublisher,
  recordLastSuccess,
  writerObserver,
} from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import { isolatedRedisUrl, tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { apiMetrics, gatherStackMetrics } from '../src/metrics-view.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function redis() {
  const client = new Redis(await isolatedRedisUrl(inject('redisUrl')), { maxRetriesPerRequest: null });
  cleanups.push(() => client.disconnect());
  return client;
}

const sample = (text: string, line: RegExp) => {
  const found = text.split('\n').find((l) => line.test(l));
  return found ? Number(found.split(' ').pop()) : undefined;
};

describe('metrics of the whole stack', () => {
  it('the api serves its own metrics merged with every worker’s published ones', async () => {
    const client = await redis();
    const queues = createAllQueues(client, { JOB_ATTEMPTS: 1, JOB_BACKOFF_MS: 10 });
    cleanups.push(() => Promise.all([...queues.values()].map((q) => q.close())));
    const syncWorker = new Metrics('sync-worker');
    const backupWorker = new Metrics('backup-worker');
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const dbPath = join(dir.path, 'dashboard.duckdb');
    writeFileSync(dbPath, Buffer.alloc(12_288));
    backupWorker.trackDatabaseFile(dbPath);
    writerObserver(syncWorker).lockWaited(40);
    writerObserver(syncWorker).lockHeld(2_500);
    writerObserver(backupWorker).lockWaited(1_200);
    backupWorker.rowsAccepted.inc(70);
    backupWorker.jobDuration.observe({ queue: 'backup', type: 'backup', outcome: 'completed' }, 3);
    for (const m of [syncWorker, backupWorker]) {
      const publisher = new MetricsPublisher({ redis: client, metrics: m, intervalMs: 60_000 });
      await publisher.publish();
      cleanups.push(() => publisher.close());
    }
    await queues.get(QUEUES.ingest)!.add('sales-batch', {});
    await queues.get(QUEUES.ingest)!.add('sales-batch', {});
    await recordLastSuccess(client, 'backup', Date.now() - 3_600_000);
    const api = apiMetrics(queues, client);
    const { text, contentType } = await gatherStackMetrics(client, api.registry);
    expect(contentType).toMatch(/text\/plain/);
    expect(sample(text, /^datasync_queue_jobs\{queue="ingest",state="waiting"}/)).toBe(2);
    expect(sample(text, /^datasync_queue_jobs\{queue="backup",state="failed"}/)).toBe(0);
    expect(sample(text, /^datasync_writer_lock_wait_seconds_count\{process="sync-worker"}/)).toBe(1);
    expect(sample(text, /^datasync_writer_lock_wait_seconds_count\{process="backup-worker"}/)).toBe(1);
    expect(sample(text, /^datasync_writer_lock_hold_seconds_sum\{process="sync-worker"}/)).toBe(2.5);
    expect(sample(text, /^datasync_rows_accepted_total/)).toBe(70);
    expect(
      sample(text, /^datasync_job_duration_seconds_count\{queue="backup",type="backup",outcome="completed"}/),
    ).toBe(1);
    expect(sample(text, /^datasync_database_size_bytes/)).toBe(12_288);
    const backupAge = sample(text, /^datasync_last_backup_age_seconds/)!;
    expect(backupAge).toBeGreaterThanOrEqual(3_600);
    expect(backupAge).toBeLessThan(3_700);
    // No sync has succeeded yet: no sample rather than a made-up age.
    expect(sample(text, /^datasync_last_sync_age_seconds/)).toBeUndefined();
    expect(text).toMatch(/^process_resident_memory_bytes /m);
  });

  it('a stopped process’s metrics leave the stack', async () => {
    const client = await redis();
    const worker = new Metrics('sync-worker');
    worker.rowsRejected.inc(5);
    const publisher = new MetricsPublisher({ redis: client, metrics: worker, intervalMs: 60_000 });
    await publisher.publish();
    const own = new Metrics('api');
    expect(
      sample((await gatherStackMetrics(client, own.registry)).text, /^datasync_rows_rejected_total/),
    ).toBe(5);
    await publisher.close();
    expect(
      sample((await gatherStackMetrics(client, own.registry)).text, /^datasync_rows_rejected_total/),
    ).toBe(0);
    expect(await client.exists(LAST_SUCCESS_KEY)).toBe(0);
  });
});
