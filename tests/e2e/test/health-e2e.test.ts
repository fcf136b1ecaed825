import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { commitSalesBatches, DatabaseWriter, WriterLock } from '@datasync/db';
import { LAST_SUCCESS_KEY, QUEUE_PREFIX } from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import {
  freePort,
  isolatedRedisUrl,
  type SpawnedProcess,
  spawnNode,
  tempDir,
  testSale,
  waitFor,
} from '@datasync/testkit';
import { startSmtpServer, startWebhookReceiver } from '@datasync/testkit/receivers';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { onCleanup, quietLogger, runCleanups } from './e2e-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const API = join(ROOT, 'apps', 'api', 'dist', 'main.js');
const BACKUP_WORKER = join(ROOT, 'apps', 'backup-worker', 'dist', 'main.js');
const SCHEDULER = join(ROOT, 'apps', 'scheduler', 'dist', 'main.js');
const CLI = join(ROOT, 'apps', 'cli', 'dist', 'main.js');
const OPERATOR_KEY = 'operator-secret-0123456789';

let env: Record<string, string>;
let baseUrl: string;
let redis: Redis;
let slack: Awaited<ReturnType<typeof startWebhookReceiver>>;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

/** The stack as an operator runs it: api, backup-worker and scheduler processes from dist. */
beforeAll(async () => {
  const dir = tempDir('datasync-health-e2e-');
  onCleanup(dir.cleanup);
  slack = await startWebhookReceiver();
  smtp = await startSmtpServer();
  onCleanup(slack.close);
  onCleanup(smtp.close);
  const port = await freePort();
  env = {
    REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
    DATABASE_PATH: join(dir.path, 'data', 'dashboard.duckdb'),
    BACKUP_DIR: join(dir.path, 'backups'),
    IMPORT_DIR: join(dir.path, 'imports'),
    API_KEYS: `ops:operator:${OPERATOR_KEY}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    SLACK_WEBHOOK: slack.url,
    SMTP_URL: smtp.url,
    ALERT_EMAIL: 'ops@example.com',
    SCHEDULE_TZ: 'Europe/Berlin',
    HEALTH_MIN_DISK_FREE_PERCENT: '0',
    WRITER_LOCK_LEASE_MS: '2000',
    WRITER_LOCK_IDLE_RELEASE_MS: '300',
    LOG_LEVEL: 'info',
  };
  baseUrl = `http://127.0.0.1:${port}`;
  redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
  onCleanup(() => redis.disconnect());
  const start = async (script: string, ready: RegExp) => {
    const child: SpawnedProcess = spawnNode(script, env);
    onCleanup(async () => {
      child.kill('SIGTERM');
      await child.exited();
    });
    await child.waitForOutput(ready, 30_000);
    return child;
  };
  await Promise.all([
    start(API, /api listening/),
    start(BACKUP_WORKER, /backup-worker started/),
    start(SCHEDULER, /scheduler started/),
  ]);
});
afterAll(runCleanups);

async function datasync(...args: string[]) {
  const child = spawnNode(CLI, { DATASYNC_URL: baseUrl, DATASYNC_API_KEY: OPERATOR_KEY }, args);
  const { code } = await child.exited();
  return { code, out: child.output() };
}

/** Writes to the database the way another worker would: through the writer lock. */
async function write(
  fn: (tx: Parameters<Parameters<DatabaseWriter['transaction']>[0]>[0]) => Promise<unknown>,
) {
  const connection = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: env.DATABASE_PATH!,
    lock: new WriterLock({ redis: connection, leaseMs: 2_000 }),
    logger: quietLogger,
    idleReleaseMs: 0,
  });
  try {
    await writer.transaction(fn);
  } finally {
    await writer.close();
    connection.disconnect();
  }
}

describe('datasync health-check against the running stack', () => {
  it('exits 1 with a table of warnings on a fresh install, --json for machines', async () => {
    const { code, out } = await datasync('health-check');
    expect(code).toBe(1);
    expect(out).toMatch(/^name\s+status\s+detail$/m);
    expect(out).toMatch(/^database\s+ok\s+opens and answers/m);
    expect(out).toMatch(/^row counts\s+warn\s+sales 0/m);
    expect(out).toMatch(/^last backup\s+warn\s+no backup in/m);
    expect(out).toMatch(/^overall: warn$/m);
    const json = await datasync('health-check', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ state: 'completed', result: { status: 'warn' } });
  });

  it('exits 0 once there are sales, a successful sync and a backup', async () => {
    await write((tx) =>
      commitSalesBatches(tx, [
        {
          batchId: 'e2e-1',
          source: 'test',
          idempotencyKeyHash: null,
          bodyHash: 'e2e-1',
          received: 50,
          sales: Array.from({ length: 50 }, (_, i) => ({ id: null, ...testSale(i) })),
          rejects: [],
        },
      ]),
    );
    // A sales sync that brought sales (the sync-worker's part, played here by a worker of the test).
    const syncQueue = new Queue(QUEUES.salesSync, { connection: redis, prefix: QUEUE_PREFIX });
    const syncWorker = new Worker(
      QUEUES.salesSync,
      async () => ({ received: 50, accepted: 50, warnings: [] }),
      {
        connection: redis,
        prefix: QUEUE_PREFIX,
      },
    );
    onCleanup(() => syncWorker.close());
    onCleanup(() => syncQueue.close());
    await syncQueue.add('sales-sync', { source: 'api', days: 1 });
    await waitFor(async () => (await redis.hget(LAST_SUCCESS_KEY, 'sales-sync')) !== null, {
      what: 'the monitor to record the sync',
    });
    expect((await datasync('backup')).code).toBe(0);
    const { code, out } = await datasync('health-check');
    expect(out).toMatch(/^overall: ok$/m);
    expect(code).toBe(0);
  });

  it('exits 2 on a failed check, and the failed health check alerts by Slack and mail', async () => {
    await write(async ({ conn }) => {
      // Written around the validation, the rollup kept in step (every write transaction must).
      const figures = (sign: string) => `INSERT INTO sales_daily
        SELECT date, region, product_name, source, ${sign}count(*), ${sign}sum(quantity), ${sign}sum(total_amount), max(ingested_at)
        FROM sales WHERE product_name = 'Product 7' GROUP BY ALL`;
      await conn.run(figures('-'));
      await conn.run(`UPDATE sales SET region = '' WHERE product_name = 'Product 7'`);
      await conn.run(figures(''));
    });
    const { code, out } = await datasync('health-check');
    expect(code).toBe(2);
    expect(out).toMatch(/^required values\s+fail\s+sales rows without a value: region 1$/m);
    await waitFor(() => slack.messages.length >= 1 && smtp.mails.length >= 1, { what: 'the alert' });
    expect(slack.messages[0]!.text).toMatch(/Health check failed: required values/);
    expect(smtp.mails[0]!.raw).toMatch(/Subject: \[datasync critical\] Health check failed: required values/);
    // Same incident again within the cool-down: no second alert.
    expect((await datasync('health-check')).code).toBe(2);
    await delay(500);
    expect(slack.messages).toHaveLength(1);
  });

  it('GET /metrics shows the backup-worker’s metrics beside the api’s', async () => {
    const text = await waitFor(
      async () => {
        const body = await (await fetch(`${baseUrl}/metrics`)).text();
        // The alert counter is counted once the channel answered, after the fake server saw it.
        const healthChecks =
          body.split('\n').find((l) => l.startsWith('datasync_job_duration_seconds_count{queue="health"')) ??
          '';
        return /outcome="completed"} [4-9]/.test(healthChecks) && /^datasync_alerts_sent_total\{/m.test(body)
          ? body
          : null;
      },
      { timeoutMs: 20_000, what: 'the health checks and the alert sent in /metrics' },
    );
    expect(text).toMatch(
      /^datasync_job_duration_seconds_count\{queue="backup",type="backup",outcome="completed"} 1$/m,
    );
    expect(text).toMatch(/^datasync_database_size_bytes \d{5,}$/m);
    expect(text).toMatch(/^datasync_last_backup_age_seconds\{job="backup"} \d/m);
    expect(text).toMatch(/^datasync_last_sync_age_seconds\{job="sales-sync"} \d/m);
    expect(text).toMatch(/^datasync_alerts_sent_total\{channel="slack"} 1$/m);
    expect(text).toMatch(/^datasync_queue_jobs\{queue="health",state="completed"} 5$/m);
  });

  it('datasync schedules shows the timetable the scheduler wrote, in its zone', async () => {
    const { code, out } = await datasync('schedules');
    expect(code).toBe(0);
    expect(out).toMatch(
      /^health-check\s+0 \* \* \* \*\s+Europe\/Berlin\s+\d{4}-\d\d-\d\d \d\d:00:00Z\s+never/m,
    );
    expect(out).toMatch(/^sales-sync\s+0 2 \* \* \*\s+Europe\/Berlin/m);
    const json = JSON.parse((await datasync('schedules', '--json')).out);
    expect(json.schedules).toHaveLength(5);
  });
});
