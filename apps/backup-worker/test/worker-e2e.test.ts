import { join } from 'node:path';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import { createQueue, createQueueEvents } from '@datasync/runtime';
import {
  BACKUP_JOBS,
  type BackupJobResult,
  type ListBackupsResult,
  QUEUES,
  type RestoreJobResult,
  type VerifyBackupJobResult,
} from '@datasync/schemas';
import { isolatedRedisUrl, spawnNode, tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BUCKET, ingest, onCleanup, quietLogger, runCleanups, salesRows, startS3 } from './helpers.js';

afterEach(runCleanups);

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

describe('the backup-worker process', () => {
  it('runs backup, list-backups, verify-backup and restore jobs from the queue, and stops on SIGTERM', async () => {
    const s3 = await startS3();
    const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
    const dir = tempDir('datasync-backup-e2e-');
    onCleanup(dir.cleanup);
    const dbPath = join(dir.path, 'data', 'dashboard.duckdb');
    const env = {
      REDIS_URL: redisUrl,
      DATABASE_PATH: dbPath,
      BACKUP_DIR: join(dir.path, 'backups'),
      AWS_S3_BACKUP_BUCKET: BUCKET,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_S3_FORCE_PATH_STYLE: 'true',
      // s3rver's fixed credentials: they must never show in the process's output.
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      WRITER_LOCK_LEASE_MS: '2000',
      WRITER_LOCK_IDLE_RELEASE_MS: '200',
      WORKER_LOCK_DURATION_MS: '5000',
      JOB_BACKOFF_MS: '100',
      LOG_LEVEL: 'info',
    };

    // The sync-worker's side: the same lock (default key) on the same Redis database.
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    onCleanup(() => redis.disconnect());
    const writer = new DatabaseWriter({
      path: dbPath,
      lock: new WriterLock({ redis, leaseMs: 2000 }),
      logger: quietLogger,
      idleReleaseMs: 200,
    });
    onCleanup(() => writer.close());
    await ingest(writer, 'b-1', 500);

    const worker = spawnNode(MAIN, env);
    onCleanup(() => worker.kill('SIGKILL'));
    await worker.waitForOutput(/backup-worker started/);

    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    onCleanup(() => connection.disconnect());
    const queue = createQueue(QUEUES.backup, connection, { JOB_ATTEMPTS: 3, JOB_BACKOFF_MS: 100 });
    const events = createQueueEvents(QUEUES.backup, connection.duplicate());
    onCleanup(() => events.close());
    onCleanup(() => queue.close());
    await events.waitUntilReady();
    const run = async <T>(name: string, data: object = {}): Promise<T> =>
      (await queue.add(name, data)).waitUntilFinished(events, 60_000) as Promise<T>;

    const made = await run<BackupJobResult>(BACKUP_JOBS.backup);
    expect(made.backup).toMatchObject({ locations: ['local', 's3'], tables: { sales: 500 } });
    expect(made.uploaded).toBe(true);

    await ingest(writer, 'b-2', 70);
    const listed = await run<ListBackupsResult>(BACKUP_JOBS.list);
    expect(listed.backups.map((b) => [b.name, b.verification.state, b.locations])).toEqual([
      [made.backup.name, 'verified', ['local', 's3']],
    ]);
    const verified = await run<VerifyBackupJobResult>(BACKUP_JOBS.verify);
    expect(verified).toMatchObject({ name: made.backup.name, ok: true });

    const restored = await run<RestoreJobResult>(BACKUP_JOBS.restore, { name: made.backup.name });
    expect(restored).toMatchObject({ name: made.backup.name, source: 'local' });
    expect(await salesRows(writer)).toBe(500);

    // A missing backup fails at once with its reason, not after every retry.
    const missing = await queue.add(BACKUP_JOBS.restore, { name: 'backup-20000101T000000000Z' });
    await expect(missing.waitUntilFinished(events, 60_000)).rejects.toThrow(/no backup named/);
    expect((await queue.getJob(missing.id!))?.attemptsMade).toBe(1);

    expect(worker.output()).toMatch(/"job":"backup".*"ms":\d+.*job finished/);
    expect(worker.output()).not.toContain('S3RVER');
    worker.kill('SIGTERM');
    expect((await worker.exited()).code).toBe(0);
  });
});
