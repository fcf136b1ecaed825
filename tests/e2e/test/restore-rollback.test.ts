import { join } from 'node:path';
import { DatabaseWriter, salesTotals, WriterLock } from '@datasync/db';
import type { BatchReceipt, JobStatus, RestoreJobResult } from '@datasync/schemas';
import {
  freePort,
  isolatedRedisUrl,
  type SpawnedProcess,
  spawnNode,
  sumOfTotals,
  tempDir,
  testSale,
  waitFor,
} from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { onCleanup, quietLogger, runCleanups } from './e2e-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const API = join(ROOT, 'apps', 'api', 'dist', 'main.js');
const SYNC_WORKER = join(ROOT, 'apps', 'sync-worker', 'dist', 'main.js');
const BACKUP_WORKER = join(ROOT, 'apps', 'backup-worker', 'dist', 'main.js');
const CLI = join(ROOT, 'apps', 'cli', 'dist', 'main.js');
const INGEST_KEY = 'ingest-secret-0123456789';
const OPERATOR_KEY = 'operator-secret-0123456789';

afterAll(runCleanups);

const batch = (n: number) => Array.from({ length: 100 }, (_, i) => testSale(n * 100 + i));

/** The stack as it runs: api, sync-worker and backup-worker processes from dist, the CLI as operators use it. */
async function startStack() {
  const dir = tempDir('datasync-restore-rollback-');
  onCleanup(dir.cleanup);
  const port = await freePort();
  const env: Record<string, string> = {
    REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
    DATABASE_PATH: join(dir.path, 'data', 'dashboard.duckdb'),
    BACKUP_DIR: join(dir.path, 'backups'),
    IMPORT_DIR: join(dir.path, 'imports'),
    API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    WRITER_LOCK_LEASE_MS: '2000',
    WRITER_LOCK_IDLE_RELEASE_MS: '300',
    WORKER_LOCK_DURATION_MS: '2000',
    JOB_BACKOFF_MS: '200',
    LOG_LEVEL: 'info',
  };
  const base = `http://127.0.0.1:${port}`;
  const start = async (script: string, ready: RegExp) => {
    const child: SpawnedProcess = spawnNode(script, env);
    onCleanup(async () => {
      child.kill('SIGTERM');
      await child.exited();
    });
    await child.waitForOutput(ready, 30_000);
    return child;
  };
  const post = async (records: unknown[], key: string, wait: boolean) => {
    const response = await fetch(`${base}/v1/sales/batches${wait ? '?wait=true' : ''}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${INGEST_KEY}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify(records),
    });
    return {
      status: response.status,
      replayed: response.headers.get('idempotent-replayed') === 'true',
      receipt: (await response.json()) as BatchReceipt,
    };
  };
  const job = async (id: string) =>
    (await (
      await fetch(`${base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${OPERATOR_KEY}` } })
    ).json()) as JobStatus;
  const datasync = async (...args: string[]) => {
    const child = spawnNode(CLI, { DATASYNC_URL: base, DATASYNC_API_KEY: OPERATOR_KEY }, args);
    const { code } = await child.exited();
    return { code, out: child.output() };
  };
  /** Reads the database as another worker would: through the writer lock. */
  const totals = async () => {
    const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
    const writer = new DatabaseWriter({
      path: env.DATABASE_PATH!,
      lock: new WriterLock({ redis, leaseMs: 2_000 }),
      logger: quietLogger,
      idleReleaseMs: 0,
    });
    try {
      return await writer.read(async (conn) => {
        const ledger = await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM ingest_batches');
        return { ...(await salesTotals(conn)), batches: Number(ledger.getRowObjects()[0]!.n) };
      });
    } finally {
      await writer.close();
      redis.disconnect();
    }
  };
  await Promise.all([start(API, /api listening/), start(BACKUP_WORKER, /backup-worker started/)]);
  return { start, post, job, datasync, totals };
}

describe('a restore rolls back what came after its backup, and says so', () => {
  it('lists every acknowledged batch it rolled back, clears their idempotency records so a resend commits; queued batches commit after it', async () => {
    const stack = await startStack();
    const startSyncWorker = () => stack.start(SYNC_WORKER, /sync-worker started/);
    let syncWorker = await startSyncWorker();

    // Before the backup: A. After it: B, committed. Then the sync-worker stops and C waits in Redis.
    for (let i = 0; i < 3; i++) expect((await stack.post(batch(i), `a-${i}`, true)).status).toBe(202);
    const backup = await stack.datasync('backup', '--json');
    expect(backup.code).toBe(0);
    const name = (JSON.parse(backup.out) as { result: { backup: { name: string } } }).result.backup.name;
    const b: BatchReceipt[] = [];
    for (let i = 0; i < 4; i++) {
      const sent = await stack.post(batch(10 + i), `b-${i}`, true);
      expect(sent.status).toBe(202);
      b.push(sent.receipt);
    }
    syncWorker.kill('SIGTERM');
    expect((await syncWorker.exited()).code).toBe(0);
    const c: BatchReceipt[] = [];
    for (let i = 0; i < 2; i++) c.push((await stack.post(batch(20 + i), `c-${i}`, false)).receipt);

    const restore = await stack.datasync('restore', name);
    expect(restore.code).toBe(0);
    expect(restore.out).toMatch(/rolled back: 4 batch\(es\), 400 rows committed after this backup are gone/);
    for (const r of b)
      expect(restore.out).toMatch(new RegExp(`^${r.batchId}\\s+shop\\s+api-batch\\s+100\\s`, 'm'));
    const restoreJobId = /job (\S+) \(restore\) queued/.exec(restore.out)![1]!;
    const result = (await stack.job(restoreJobId)).result as RestoreJobResult;
    expect(result.rolledBack.map((x) => x.batchId)).toEqual(b.map((r) => r.batchId));
    for (const rolled of result.rolledBack) {
      expect(rolled).toMatchObject({
        source: 'shop',
        kind: 'api-batch',
        rows: 100,
        idempotencyCleared: true,
      });
      expect(Date.parse(rolled.receivedAt!)).toBeLessThanOrEqual(Date.parse(rolled.committedAt));
    }

    // The batches still queued during the restore commit after it, into the restored database.
    syncWorker = await startSyncWorker();
    for (const r of c) {
      await waitFor(async () => (await stack.job(r.jobId)).state === 'completed', {
        what: `queued batch ${r.batchId} committed`,
      });
    }
    // A resend of a rolled-back batch is a new batch (not the old receipt) and commits; A's records stay.
    for (let i = 0; i < 4; i++) {
      const again = await stack.post(batch(10 + i), `b-${i}`, true);
      expect(again.status).toBe(202);
      expect(again.replayed).toBe(false);
      expect(again.receipt.batchId).not.toBe(b[i]!.batchId);
      expect(again.receipt.committed).toBe(true);
    }
    const kept = await stack.post(batch(0), 'a-0', true);
    expect(kept.replayed).toBe(true);

    syncWorker.kill('SIGTERM');
    await syncWorker.exited();
    const all = [0, 1, 2, 10, 11, 12, 13, 20, 21].flatMap(batch);
    expect(await stack.totals()).toEqual({ rows: 900, totalAmount: sumOfTotals(all), batches: 9 });
  });
});
