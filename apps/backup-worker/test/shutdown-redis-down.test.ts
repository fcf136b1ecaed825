import { join } from 'node:path';
import { createQueue, createQueueEvents } from '@datasync/runtime';
import { BACKUP_JOBS, type BackupJobResult, QUEUES } from '@datasync/schemas';
import { spawnNode, startLocalRedis, tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { onCleanup, runCleanups } from './helpers.js';

afterEach(runCleanups);

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
/** Far below the 30 s the shutdown used to hang for, generous for a loaded machine: "does not hang". */
const PROMPT_EXIT_MS = 12_000;

describe('stopping the backup-worker while Redis is gone', () => {
  it('SIGTERM with Redis unreachable exits 0 promptly after its jobs', async () => {
    const dir = tempDir('datasync-backup-shutdown-');
    onCleanup(dir.cleanup);
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    onCleanup(() => redis.stop());
    const env = {
      REDIS_URL: redis.url,
      DATABASE_PATH: join(dir.path, 'data', 'dashboard.duckdb'),
      BACKUP_DIR: join(dir.path, 'backups'),
      WRITER_LOCK_LEASE_MS: '2000',
      WORKER_LOCK_DURATION_MS: '2000',
      LOG_LEVEL: 'info',
    };
    const worker = spawnNode(MAIN, env);
    onCleanup(() => worker.kill('SIGKILL'));
    await worker.waitForOutput(/backup-worker started/);

    const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    connection.on('error', () => undefined);
    const queue = createQueue(QUEUES.backup, connection, { JOB_ATTEMPTS: 1, JOB_BACKOFF_MS: 100 });
    const eventsConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
    eventsConnection.on('error', () => undefined);
    const events = createQueueEvents(QUEUES.backup, eventsConnection);
    await events.waitUntilReady();
    const made = (await (
      await queue.add(BACKUP_JOBS.backup, {})
    ).waitUntilFinished(events, 60_000)) as BackupJobResult;
    expect(made.backup.verification.state).toBe('verified');
    await Promise.all([events.close(), queue.close()]).catch(() => undefined);
    connection.disconnect();
    eventsConnection.disconnect();

    redis.process.kill('SIGKILL');
    await new Promise((r) => redis.process.once('exit', r));
    worker.kill('SIGTERM');
    const exit = await Promise.race([
      worker.exited(),
      new Promise<null>((r) => setTimeout(() => r(null), PROMPT_EXIT_MS)),
    ]);
    expect(
      exit,
      `still running ${PROMPT_EXIT_MS} ms after SIGTERM:\n${worker.output().slice(-2000)}`,
    ).not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(worker.output()).toMatch(/"msg":"stopped"/);
  });
});
