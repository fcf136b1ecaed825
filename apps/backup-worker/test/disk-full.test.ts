import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { commitSalesBatches, DatabaseWriter, WriterLock } from '@datasync/db';
import { createQueue, createQueueEvents } from '@datasync/runtime';
import { BACKUP_JOBS, type ListBackupsResult, QUEUES } from '@datasync/schemas';
import { isolatedRedisUrl, spawnNode, tempDir, waitFor } from '@datasync/testkit';
import { startWebhookReceiver } from '@datasync/testkit/receivers';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { onCleanup, quietLogger, runCleanups, salesBatch } from './helpers.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

/**
 * A real full file system: a 2 MiB tmpfs as BACKUP_DIR (needs root, as in CI and the dev machine;
 * elsewhere the test is skipped, saying why). Unmounted after the run.
 */
const root = tempDir('datasync-disk-full-');
const backupDir = join(root.path, 'backups');
mkdirSync(backupDir);
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', backupDir], { encoding: 'utf8' });
const mounted = mount.status === 0;
afterAll(async () => {
  await runCleanups();
  if (mounted) spawnSync('umount', [backupDir]);
  root.cleanup();
});

/** Rows that DuckDB cannot compress much (a random product each), so the file outgrows 2 MiB. */
function bulkyBatch(batchId: string, rows: number) {
  const batch = salesBatch(batchId, rows);
  for (const sale of batch.sales) sale.product_name = `Product ${randomUUID()}`;
  return batch;
}

describe.skipIf(!mounted)(
  `a backup on a full disk${mounted ? '' : ` (skipped: ${mount.stderr.trim()})`}`,
  () => {
    it('fails once with a clear ENOSPC, alerts once, and leaves no partial file behind or listed', async () => {
      const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
      const dbPath = join(root.path, 'data', 'dashboard.duckdb');
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
      onCleanup(() => redis.disconnect());
      const writer = new DatabaseWriter({
        path: dbPath,
        lock: new WriterLock({ redis, leaseMs: 60_000 }),
        logger: quietLogger,
        idleReleaseMs: 0,
      });
      await writer.transaction((tx) => commitSalesBatches(tx, [bulkyBatch('big-1', 120_000)]));
      await writer.close();
      expect(statSync(dbPath).size).toBeGreaterThan(2 * 1024 * 1024);

      const slack = await startWebhookReceiver();
      onCleanup(slack.close);
      const worker = spawnNode(MAIN, {
        REDIS_URL: redisUrl,
        DATABASE_PATH: dbPath,
        BACKUP_DIR: backupDir,
        SLACK_WEBHOOK: slack.url,
        // Retries would come fast here if a full disk were retried: the default 8 attempts.
        JOB_BACKOFF_MS: '100',
        WRITER_LOCK_LEASE_MS: '2000',
        WRITER_LOCK_IDLE_RELEASE_MS: '200',
        LOG_LEVEL: 'info',
      });
      onCleanup(async () => {
        worker.kill('SIGTERM');
        await worker.exited();
      });
      await worker.waitForOutput(/backup-worker started/);

      const queue = createQueue(QUEUES.backup, redis, { JOB_ATTEMPTS: 8, JOB_BACKOFF_MS: 100 });
      const events = createQueueEvents(QUEUES.backup, redis.duplicate());
      onCleanup(() => events.close());
      onCleanup(() => queue.close());
      await events.waitUntilReady();

      const job = await queue.add(BACKUP_JOBS.backup, {});
      const failure = await job.waitUntilFinished(events, 60_000).then(
        () => null,
        (error: Error) => error,
      );
      expect(failure?.message).toMatch(
        /^backup failed: the backup folder \(BACKUP_DIR\): no space left on the device \(ENOSPC\)\. Not retried/,
      );
      expect(failure?.message).not.toContain(root.path);
      const failed = await queue.getJob(job.id!);
      expect(failed?.attemptsMade).toBe(1);
      expect(await failed?.getState()).toBe('failed');

      // The alert, once: the monitor sees one failed backup, not eight.
      await waitFor(() => slack.messages.length >= 1, { what: 'the backup-failed alert' });
      await delay(2_000);
      expect(slack.messages).toHaveLength(1);
      expect(slack.messages[0]!.text).toMatch(/Backup failed/);
      expect(slack.messages[0]!.text).toMatch(/no space left on the device \(ENOSPC\)/);

      // Nothing partial left on the full disk, and nothing listed.
      expect(readdirSync(backupDir)).toEqual([]);
      const listed = (await (
        await queue.add(BACKUP_JOBS.list, {})
      ).waitUntilFinished(events, 60_000)) as ListBackupsResult;
      expect(listed.backups).toEqual([]);
      // The database itself was only read: still whole.
      const again = new DatabaseWriter({
        path: dbPath,
        lock: new WriterLock({ redis, leaseMs: 2_000 }),
        logger: quietLogger,
        idleReleaseMs: 0,
      });
      const rows = await again.read(async (conn) => {
        const reader = await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM sales');
        return Number(reader.getRowObjects()[0]!.n);
      });
      await again.close();
      expect(rows).toBe(120_000);
    });
  },
);
