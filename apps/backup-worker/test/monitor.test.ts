import { createAllQueues, LAST_SUCCESS_KEY, LOGIN_KEYS, Metrics, QUEUE_PREFIX } from '@datasync/runtime';
import { type ALL_QUEUES, QUEUES } from '@datasync/schemas';
import { isolatedRedisUrl, waitFor } from '@datasync/testkit';
import { deadPort, startWebhookReceiver } from '@datasync/testkit/receivers';
import { type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Alerter } from '../src/alerts/alerter.js';
import { type AlertChannel, EmailChannel, SlackChannel } from '../src/alerts/channels.js';
import { OperationsMonitor } from '../src/alerts/monitor.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Queues, a monitor leading on its own Redis database, and in-process workers whose processors tests pick. */
async function setup(options: { slackUrl: string; smtpUrl?: string }) {
  const url = await isolatedRedisUrl(inject('redisUrl'));
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  cleanups.push(() => connection.disconnect());
  const queues = createAllQueues(connection, { JOB_ATTEMPTS: 1, JOB_BACKOFF_MS: 10 });
  cleanups.push(() => Promise.all([...queues.values()].map((q) => q.close())));
  const metrics = new Metrics('backup-worker');
  const channels: AlertChannel[] = [new SlackChannel(options.slackUrl, 2_000)];
  if (options.smtpUrl)
    channels.push(new EmailChannel(options.smtpUrl, 'ops@example.com', 'ds@example.com', 2_000));
  const alerter = new Alerter({ redis: connection, channels, cooldownMs: 60_000, logger, metrics });
  const monitor = new OperationsMonitor({
    connection,
    queues,
    alerter,
    metrics,
    logger,
    scheduleGraceMs: 30 * 60_000,
    watchIntervalMs: 3_600_000,
    leaseMs: 1_000,
    loginFailureBurst: 20,
  }).start();
  cleanups.push(() => monitor.close());
  await waitFor(() => monitor.isLeader, { what: 'the monitor to lead' });
  const work = (queue: (typeof ALL_QUEUES)[number], processor: (job: Job) => Promise<unknown>) => {
    const worker = new Worker(queue, processor, { connection, prefix: QUEUE_PREFIX });
    worker.on('error', () => undefined);
    cleanups.push(() => worker.close());
    return worker;
  };
  const queue = (name: (typeof ALL_QUEUES)[number]) => queues.get(name) as Queue;
  return { connection, queues, queue, metrics, monitor, work };
}

const finished = (queue: Queue, id: string) =>
  waitFor(async () => {
    const state = await queue.getJobState(id);
    return state === 'completed' || state === 'failed' ? state : null;
  });

describe('the operations monitor', () => {
  it('alerts on a failed backup, a job out of retries, a sync with no sales and a failed health check', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    const { queue, work, connection } = await setup({ slackUrl: slack.url });
    work(QUEUES.backup, async () => {
      throw new Error('No space left on device');
    });
    work(QUEUES.salesSync, async () => ({ received: 0, accepted: 0, rejected: 0, warnings: [] }));
    work(QUEUES.health, async () => ({
      status: 'fail',
      checks: [{ name: 'database', status: 'fail', detail: 'could not open' }],
      checkedAt: new Date().toISOString(),
    }));
    let attempts = 0;
    work(QUEUES.userImport, async () => {
      attempts++;
      throw new Error('file is gone');
    });
    await queue(QUEUES.backup).add('backup', {}, { jobId: 'b1' });
    await queue(QUEUES.salesSync).add('sales-sync', { source: 'api', days: 1 }, { jobId: 's1' });
    await queue(QUEUES.health).add('health-check', {}, { jobId: 'h1' });
    await queue(QUEUES.userImport).add(
      'user-import',
      { file: 'x' },
      { jobId: 'u1', attempts: 3, backoff: 10 },
    );
    await waitFor(() => slack.messages.length >= 4, { what: 'four alerts' });
    await new Promise((r) => setTimeout(r, 300));
    const texts = slack.messages.map((m) => m.text).sort();
    expect(texts).toHaveLength(4);
    expect(texts.find((t) => /Backup failed/.test(t))).toMatch(/No space left on device/);
    expect(texts.find((t) => /sales sync returned no sales/.test(t))).toMatch(/no sales/);
    expect(texts.find((t) => /Health check failed: database/.test(t))).toMatch(/could not open/);
    // One alert for the user import, after its last attempt, not one per attempt.
    expect(attempts).toBe(3);
    expect(texts.find((t) => /user-import on the user-import queue failed for good/.test(t))).toMatch(
      /after 3 attempt/,
    );
    // The jobs keep their own outcome, and the sync's last success is recorded.
    expect(await finished(queue(QUEUES.backup), 'b1')).toBe('failed');
    expect(await finished(queue(QUEUES.salesSync), 's1')).toBe('completed');
    expect(Number(await connection.hget(LAST_SUCCESS_KEY, 'sales-sync'))).toBeGreaterThan(
      Date.now() - 60_000,
    );
  });

  it('a sync that brought sales, a CSV sync and a passing health check raise nothing', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    const { queue, work, metrics } = await setup({ slackUrl: slack.url });
    work(QUEUES.salesSync, async () => ({ received: 12, accepted: 12, warnings: [] }));
    work(QUEUES.health, async () => ({ status: 'warn', checks: [], checkedAt: new Date().toISOString() }));
    work(QUEUES.ingest, async () => ({ batchId: 'x', stored: 40, rejected: 2, duplicate: false }));
    await queue(QUEUES.salesSync).add('sales-sync', { source: 'api', days: 1 }, { jobId: 's1' });
    await queue(QUEUES.salesSync).add('sales-sync', { source: 'csv', file: 'f' }, { jobId: 's2' });
    await queue(QUEUES.health).add('health-check', {}, { jobId: 'h1' });
    await queue(QUEUES.ingest).add('sales-batch', {}, { jobId: 'i1' });
    await queue(QUEUES.ingest).add('sales-batch', {}, { jobId: 'i2' });
    await waitFor(async () => {
      const rows = await metrics.registry.getSingleMetric('datasync_rows_accepted_total')?.get();
      return rows?.values[0]?.value === 80;
    });
    const durations = await metrics.registry.getSingleMetricAsString('datasync_job_duration_seconds');
    expect(durations).toMatch(
      /datasync_job_duration_seconds_count\{queue="ingest",type="sales-batch",outcome="completed"\} 2/,
    );
    await waitFor(async () =>
      /type="health-check"/.test(
        await metrics.registry.getSingleMetricAsString('datasync_job_duration_seconds'),
      ),
    );
    expect(
      (await metrics.registry.getSingleMetric('datasync_rows_rejected_total')?.get())?.values[0]?.value,
    ).toBe(4);
    expect(slack.messages).toHaveLength(0);
  });

  it('alerts when a scheduled job has not started within the grace after it was due', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    const { queue, monitor, metrics } = await setup({ slackUrl: slack.url });
    await queue(QUEUES.health).upsertJobScheduler(
      'health-check',
      { pattern: '0 * * * *', tz: 'UTC' },
      { name: 'health-check', data: {} },
    );
    const [scheduler] = await queue(QUEUES.health).getJobSchedulers();
    await monitor.checkScheduleWindows(scheduler!.next! + 10 * 60_000);
    expect(slack.messages).toHaveLength(0);
    await monitor.checkScheduleWindows(scheduler!.next! + 31 * 60_000);
    await monitor.checkScheduleWindows(scheduler!.next! + 40 * 60_000);
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toMatch(/Scheduled job health-check did not run in its window/);
    expect(slack.messages[0]!.text).toMatch(/Is a worker listening on the health queue/);
    expect(await metrics.registry.getSingleMetricAsString('datasync_schedule_missed_total')).toMatch(
      /schedule="health-check"} 1/,
    );
  });

  it('Slack and SMTP down: the job keeps its result, the failure is counted', async () => {
    const port = await deadPort();
    const smtpPort = await deadPort();
    const { queue, work, metrics } = await setup({
      slackUrl: `http://127.0.0.1:${port}/hook`,
      smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    });
    work(QUEUES.backup, async () => {
      throw new UnrecoverableError('backup file corrupt');
    });
    await queue(QUEUES.backup).add('backup', {}, { jobId: 'b1', attempts: 5 });
    expect(await finished(queue(QUEUES.backup), 'b1')).toBe('failed');
    const job = await queue(QUEUES.backup).getJob('b1');
    expect(job?.failedReason).toBe('backup file corrupt');
    await waitFor(async () => {
      const text = await metrics.registry.getSingleMetricAsString('datasync_alert_failures_total');
      return /channel="slack"} 1/.test(text) && /channel="email"} 1/.test(text);
    });
  });

  it('only one monitor leads; another takes over when it stops', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    const { monitor, queues, connection } = await setup({ slackUrl: slack.url });
    const metrics = new Metrics('backup-worker');
    const second = new OperationsMonitor({
      connection,
      queues,
      alerter: new Alerter({ redis: connection, channels: [], cooldownMs: 0, logger, metrics }),
      metrics,
      logger,
      scheduleGraceMs: 60_000,
      leaseMs: 1_000,
    }).start();
    cleanups.push(() => second.close());
    await new Promise((r) => setTimeout(r, 700));
    expect(second.isLeader).toBe(false);
    await monitor.close();
    await waitFor(() => second.isLeader, { what: 'the second monitor to lead' });
  });

  it('a burst of failed directory sign-ins raises one alert; a trickle does not', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(() => slack.close());
    const { connection, monitor } = await setup({ slackUrl: slack.url });
    await connection.hincrby(LOGIN_KEYS.outcomes, 'invalid', 7);
    await monitor.checkLoginFailures(); // the baseline
    await connection.hincrby(LOGIN_KEYS.outcomes, 'invalid', 12);
    await monitor.checkLoginFailures();
    expect(slack.messages).toHaveLength(0);
    await connection.hincrby(LOGIN_KEYS.outcomes, 'invalid', 15);
    await connection.hincrby(LOGIN_KEYS.outcomes, 'locked', 6);
    await connection.hincrby(LOGIN_KEYS.outcomes, 'success', 100); // successes are no burst
    await monitor.checkLoginFailures();
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toMatch(/A burst of failed directory sign-ins/);
    expect(slack.messages[0]!.text).toMatch(/21 failed or refused sign-ins/);
  });
});
