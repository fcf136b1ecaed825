import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { commitSalesBatches, DatabaseWriter, WriterLock } from '@datasync/db';
import {
  createAllQueues,
  LAST_SUCCESS_KEY,
  Metrics,
  QUEUE_PREFIX,
  readOutsideHolder,
  writerObserver,
} from '@datasync/runtime';
import { type HealthCheckResult, parseEnvConfig, QUEUES } from '@datasync/schemas';
import { isolatedRedisUrl, spawnNode, tempDir, waitFor } from '@datasync/testkit';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Alerter } from '../src/alerts/alerter.js';
import type { Alert } from '../src/alerts/channels.js';
import { OperationsMonitor } from '../src/alerts/monitor.js';
import type { HealthDeps } from '../src/health/checks.js';
import { runHealthCheck } from '../src/health/health-check.js';
import { AnalyticsSnapshot } from '../src/snapshot/analytics-snapshot.js';
import { onCleanup, quietLogger, runCleanups, salesBatch } from './helpers.js';

afterEach(runCleanups);

const HOUR = 3_600_000;

async function makeHealth(env: Record<string, string> = {}) {
  const dir = tempDir('datasync-health-');
  onCleanup(dir.cleanup);
  const url = await isolatedRedisUrl(inject('redisUrl'));
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  onCleanup(() => redis.disconnect());
  const lockKey = `test:lock:${randomUUID()}`;
  const writer = new DatabaseWriter({
    path: join(dir.path, 'data', 'dashboard.duckdb'),
    lock: new WriterLock({ redis, key: lockKey, leaseMs: 1_500 }),
    logger: quietLogger,
    idleReleaseMs: 200,
  });
  onCleanup(() => writer.close());
  const queues = createAllQueues(redis, { JOB_ATTEMPTS: 1, JOB_BACKOFF_MS: 10 });
  onCleanup(() => Promise.all([...queues.values()].map((q) => q.close())));
  const config = parseEnvConfig({
    DATABASE_PATH: join(dir.path, 'data', 'dashboard.duckdb'),
    BACKUP_DIR: join(dir.path, 'backups'),
    HEALTH_MIN_DISK_FREE_PERCENT: '0',
    ...env,
  });
  const backup = { current: null as { name: string; createdAt: string; verification: string } | null };
  const deps: HealthDeps = { writer, redis, queues, config, newestBackup: async () => backup.current };
  return { deps, writer, redis, queues, backup, lockKey };
}

const byName = (result: HealthCheckResult) => Object.fromEntries(result.checks.map((c) => [c.name, c]));

describe('the health check', () => {
  it('is ok on a database with good sales, a recent sync and a recent backup', async () => {
    const { deps, writer, redis, backup } = await makeHealth();
    await writer.transaction((tx) => commitSalesBatches(tx, [salesBatch('b1', 30)]));
    await redis.hset(LAST_SUCCESS_KEY, 'sales-sync', Date.now() - HOUR);
    backup.current = {
      name: 'backup-1',
      createdAt: new Date(Date.now() - 2 * HOUR).toISOString(),
      verification: 'verified',
    };
    const progress: number[] = [];
    const result = await runHealthCheck(deps, { onProgress: (p) => void progress.push(p) });
    expect(result.status).toBe('ok');
    expect(result.checks.map((c) => c.name)).toEqual([
      'database',
      'row counts',
      'required values',
      'business rules',
      'dashboard rollup',
      'last sync',
      'last backup',
      'failed jobs',
      'disk free',
    ]);
    expect(result.checks.every((c) => c.status === 'ok')).toBe(true);
    expect(byName(result)['row counts']!.detail).toMatch(/^sales 30, rejects 0, users 0, ingest_batches 1/);
    expect(byName(result)['last sync']!.detail).toMatch(/last successful sales sync 1\.0 h ago/);
    expect(progress).toEqual([50, 100]);
  });

  it('warns on stale syncs, rule violations and failed jobs, and fails on missing values and an old backup', async () => {
    const { deps, writer, redis, queues, backup } = await makeHealth();
    const batch = salesBatch('b1', 10);
    batch.sales[0] = { ...batch.sales[0]!, total_amount: '99.99' };
    batch.sales[1] = { ...batch.sales[1]!, product_name: ' ' };
    await writer.transaction((tx) => commitSalesBatches(tx, [batch]));
    // A sale moved to another day around datasync (no write transaction keeps the rollup then).
    await writer.read((conn) => conn.run('UPDATE sales SET date = date - 1 WHERE rowid = 2'));
    await redis.hset(LAST_SUCCESS_KEY, 'sales-sync', Date.now() - 30 * HOUR);
    backup.current = {
      name: 'backup-0',
      createdAt: new Date(Date.now() - 60 * HOUR).toISOString(),
      verification: 'verified',
    };
    const worker = new Worker(
      QUEUES.userImport,
      async () => {
        throw new Error('file vanished');
      },
      { connection: redis, prefix: QUEUE_PREFIX },
    );
    onCleanup(() => worker.close());
    await queues.get(QUEUES.userImport)!.add('user-import', { file: 'x' });
    await new Promise<void>((resolve) => worker.on('failed', () => resolve()));

    const result = await runHealthCheck(deps);
    const checks = byName(result);
    expect(result.status).toBe('fail');
    expect(checks['required values']).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/product_name 1/),
    });
    expect(checks['business rules']).toMatchObject({
      status: 'warn',
      detail: '1 with total_amount not within 0.01 of quantity x unit_price',
    });
    expect(checks['dashboard rollup']).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        /^the daily rollup the dashboard reads disagrees with the sales .*: \d{4}-\d{2}-\d{2} \/ EU \/ Product 2 \/ test: sales 1 orders, 1 units, 2\.50, rollup 0 orders, 0 units, 0\.00; \d{4}-\d{2}-\d{2} \/ EU \/ Product 2 \/ test: sales 0 orders, 0 units, 0\.00, rollup 1 orders, 1 units, 2\.50$/,
      ),
    });
    expect(checks['last sync']!.status).toBe('warn');
    expect(checks['last backup']).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^backup-0, 2\.5 days old, verified/),
    });
    expect(checks['failed jobs']).toMatchObject({
      status: 'warn',
      detail: 'failed in the last 24 h: user-import 1',
    });
    expect(checks['disk free']!.status).toBe('ok');
  });

  it('a database that does not answer fails its checks but the others still report', async () => {
    const { deps, redis, lockKey } = await makeHealth({ HEALTH_MIN_DISK_FREE_PERCENT: '100' });
    // Another process holds the writer lock (a long restore, say) and does not hand it over.
    await redis.set(lockKey, 'someone-else', 'PX', 30_000);
    const result = await runHealthCheck(deps, { timeoutMs: 500 });
    const checks = byName(result);
    expect(result.status).toBe('fail');
    expect(checks.database).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/did not answer within 0.5 s/),
    });
    expect(checks['row counts']).toMatchObject({
      status: 'fail',
      detail: 'not checked: the database did not answer',
    });
    expect(checks['last sync']).toMatchObject({
      status: 'warn',
      detail: 'no successful sales sync recorded yet',
    });
    expect(checks['last backup']!.status).toBe('warn');
    expect(checks['failed jobs']!.status).toBe('ok');
    expect(['warn', 'fail']).toContain(checks['disk free']!.status);
    await redis.del(lockKey);
  });

  it('a process outside the stack holding the file fails the database check at once, naming it, and raises one alert until it goes', async () => {
    const { deps, writer, redis, queues, lockKey } = await makeHealth();
    await writer.transaction((tx) => commitSalesBatches(tx, [salesBatch('b1', 30)]));
    await waitFor(() => !writer.isOpen, { what: 'the idle release' });
    const reader = spawnNode(
      join(import.meta.dirname, '../../../packages/db/test/fixtures/read-only-holder.mjs'),
      { DB_PATH: deps.config.DATABASE_PATH },
    );
    onCleanup(() => reader.kill('SIGKILL'));
    await reader.waitForOutput(/holding/);

    const alerts: Alert[] = [];
    const metrics = new Metrics('backup-worker');
    const alerter = new Alerter({
      redis,
      channels: [{ name: 'test', send: async (alert) => void alerts.push(alert) }],
      cooldownMs: 60_000,
      logger: quietLogger,
      metrics,
    });
    const monitor = new OperationsMonitor({
      connection: redis,
      queues,
      alerter,
      metrics,
      logger: quietLogger,
      scheduleGraceMs: 3_600_000,
      leaseMs: 1_000,
    }).start();
    onCleanup(() => monitor.close());

    // The sync-worker's writer, kept out of the file, publishes who holds it.
    const ingest = new DatabaseWriter({
      path: deps.config.DATABASE_PATH,
      lock: new WriterLock({ redis, key: lockKey, leaseMs: 1_500 }),
      logger: quietLogger,
      idleReleaseMs: 200,
      observer: writerObserver(new Metrics('sync-worker'), redis),
    });
    onCleanup(() => ingest.close());
    const write = ingest.transaction((tx) => commitSalesBatches(tx, [salesBatch('b2', 20)]));
    await waitFor(() => readOutsideHolder(redis), { what: 'the outside holder record' });

    const held = await runHealthCheck(deps);
    const pid = reader.child.pid;
    expect(held.status).toBe('fail');
    expect(byName(held).database).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        new RegExp(`PID ${pid}\\), a process outside datasync, holds the database file`),
      ),
    });
    expect(byName(held).database!.detail).toMatch(/fuser -v .*never open the live file/);
    await waitFor(() => alerts.length > 0, { what: 'the alert' });
    await delay(2_500); // still held: no second alert
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      kind: 'database-held-outside',
      title: expect.stringContaining(`PID ${pid}`),
    });

    reader.kill('SIGTERM');
    await reader.exited();
    expect((await write)[0]).toMatchObject({ stored: 20 });
    expect(await readOutsideHolder(redis)).toBeNull();
    const after = await runHealthCheck(deps);
    expect(byName(after).database!.status).toBe('ok');
    expect(byName(after)['row counts']!.detail).toMatch(/sales 50/);
    expect(alerts).toHaveLength(1);
  });

  it('reports the analytics snapshot as one more check when ANALYTICS_SNAPSHOT_PATH is set', async () => {
    const { deps, writer } = await makeHealth();
    await writer.transaction((tx) => commitSalesBatches(tx, [salesBatch('b1', 3)]));
    expect((await runHealthCheck(deps)).checks.map((c) => c.name)).not.toContain('analytics snapshot');
    const snapshot = new AnalyticsSnapshot({
      writer,
      databasePath: deps.config.DATABASE_PATH,
      path: join(dirname(deps.config.DATABASE_PATH), 'snapshot.duckdb'),
      intervalMs: 60_000,
      logger: quietLogger,
    });
    onCleanup(() => snapshot.close());
    const withSnapshot = { ...deps, analyticsSnapshot: () => snapshot.status() };
    expect(byName(await runHealthCheck(withSnapshot))['analytics snapshot']).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/snapshot\.duckdb not written yet/),
    });
    await snapshot.tick();
    expect(byName(await runHealthCheck(withSnapshot))['analytics snapshot']).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/snapshot\.duckdb written \d+ s ago; current/),
    });
  });
});

describe('the health check with a stream source (SALES_STREAM_KEY)', () => {
  it('reports the stream lag: ok when caught up, warn past HEALTH_MAX_STREAM_LAG_SECONDS, fail past twice that', async () => {
    const { deps, redis } = await makeHealth({
      SALES_STREAM_KEY: 'sales:live',
      HEALTH_MAX_STREAM_LAG_SECONDS: '60',
    });
    const at = async (now: number) =>
      byName(await runHealthCheck({ ...deps, now: () => now }))['stream lag']!;
    expect(await at(Date.now())).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/does not exist yet/),
    });

    const t0 = Date.now();
    await redis.xadd('sales:live', `${t0}-0`, 'sale', '{}');
    await redis.xadd('sales:live', `${t0 + 1}-0`, 'sale', '{}');
    await redis.xgroup('CREATE', 'sales:live', 'datasync', '0');
    await redis.xreadgroup('GROUP', 'datasync', 'dead', 'COUNT', 1, 'STREAMS', 'sales:live', '>');
    expect(await at(t0 + 30_000)).toMatchObject({
      status: 'ok',
      detail: `stream sales:live: 2 entries not committed (1 pending at a consumer), the oldest 30 s old (${t0}-0; warn after 60 s)`,
    });
    expect((await at(t0 + 90_000)).status).toBe('warn');
    expect((await at(t0 + 121_000)).status).toBe('fail');

    await redis.xack('sales:live', 'datasync', `${t0}-0`);
    await redis.xreadgroup('GROUP', 'datasync', 'live', 'COUNT', 10, 'STREAMS', 'sales:live', '>');
    await redis.xack('sales:live', 'datasync', `${t0 + 1}-0`);
    expect(await at(t0 + 121_000)).toMatchObject({
      status: 'ok',
      detail: 'stream sales:live: every entry committed (group datasync, 2 consumers)',
    });
  });
});
