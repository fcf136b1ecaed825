import { Metrics } from '@datasync/runtime';
import { isolatedRedisUrl, waitFor } from '@datasync/testkit';
import { deadPort, startSmtpServer, startWebhookReceiver } from '@datasync/testkit/receivers';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Alerter, recentAlerts } from '../src/alerts/alerter.js';
import { type AlertChannel, EmailChannel, SlackChannel } from '../src/alerts/channels.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function redis() {
  const client = new Redis(await isolatedRedisUrl(inject('redisUrl')), { maxRetriesPerRequest: 1 });
  cleanups.push(() => client.disconnect());
  return client;
}

function alerter(client: Redis, channels: AlertChannel[], cooldownMs = 60_000) {
  const metrics = new Metrics('test');
  const a = new Alerter({ redis: client, channels, cooldownMs, logger, metrics });
  cleanups.push(() => a.close());
  return { alerter: a, metrics };
}

const backupFailed = {
  kind: 'backup-failed' as const,
  key: 'backup-failed',
  title: 'Backup failed',
  detail: 'disk full',
};

const counter = async (metrics: Metrics, name: string) =>
  (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];

describe('alerts', () => {
  it('goes to Slack and by mail through a real SMTP server', async () => {
    const slack = await startWebhookReceiver();
    const smtp = await startSmtpServer();
    cleanups.push(slack.close, smtp.close);
    const { alerter: a } = alerter(await redis(), [
      new SlackChannel(slack.url),
      new EmailChannel(smtp.url, 'ops@example.com', 'datasync@example.com'),
    ]);
    expect(await a.raise(backupFailed)).toBe('sent');
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toMatch(/Backup failed[\s\S]*disk full/);
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.to).toEqual(['ops@example.com']);
    expect(smtp.mails[0]!.raw).toMatch(/Subject: \[datasync critical\] Backup failed/);
  });

  it('sends the same incident once within the cool-down, across alerter instances', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    const client = await redis();
    const first = alerter(client, [new SlackChannel(slack.url)]);
    const second = alerter(client, [new SlackChannel(slack.url)]);
    expect(await first.alerter.raise(backupFailed)).toBe('sent');
    expect(await second.alerter.raise(backupFailed)).toBe('suppressed');
    expect(await first.alerter.raise(backupFailed)).toBe('suppressed');
    expect(await first.alerter.raise({ ...backupFailed, kind: 'job-out-of-retries', key: 'other' })).toBe(
      'sent',
    );
    expect(slack.messages).toHaveLength(2);
    expect(await counter(first.metrics, 'datasync_alerts_suppressed_total')).toEqual([
      expect.objectContaining({ labels: { kind: 'backup-failed' }, value: 1 }),
    ]);
  });

  it('sends again once the cool-down has passed', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    const { alerter: a } = alerter(await redis(), [new SlackChannel(slack.url)], 300);
    expect(await a.raise(backupFailed)).toBe('sent');
    expect(await a.raise(backupFailed)).toBe('suppressed');
    await new Promise((r) => setTimeout(r, 400));
    expect(await a.raise(backupFailed)).toBe('sent');
    expect(slack.messages).toHaveLength(2);
  });

  it('a channel that is down never throws: the failure is logged, counted, and retried next time', async () => {
    const slack = await startWebhookReceiver();
    cleanups.push(slack.close);
    slack.state.status = 500;
    const port = await deadPort();
    const client = await redis();
    const { alerter: a, metrics } = alerter(client, [
      new SlackChannel(slack.url),
      new EmailChannel(`smtp://127.0.0.1:${port}`, 'ops@example.com', 'datasync@example.com', 2_000),
    ]);
    await expect(a.raise(backupFailed)).resolves.toBe('failed');
    const failures = await counter(metrics, 'datasync_alert_failures_total');
    expect(failures.map((v) => [v.labels.channel, v.value]).sort()).toEqual([
      ['email', 1],
      ['slack', 1],
    ]);
    const [recent] = await recentAlerts(client);
    expect(recent!.outcome).toBe('failed');
    expect(recent!.failures.join(' ')).toMatch(/slack: Slack webhook answered 500/);
    expect(recent!.failures.join(' ')).not.toMatch(/secret/);
    // Nothing got through, so the cool-down does not hold back the next try.
    slack.state.status = 200;
    expect(await a.raise(backupFailed)).toBe('sent');
    expect(slack.messages).toHaveLength(1);
  });

  it('one channel down still delivers on the other', async () => {
    const smtp = await startSmtpServer();
    cleanups.push(smtp.close);
    const port = await deadPort();
    const { alerter: a } = alerter(await redis(), [
      new SlackChannel(`http://127.0.0.1:${port}/hook`, 2_000),
      new EmailChannel(smtp.url, 'ops@example.com', 'datasync@example.com'),
    ]);
    expect(await a.raise(backupFailed)).toBe('sent');
    await waitFor(() => smtp.mails.length === 1);
  });

  it('with no channel configured the alert is still logged and remembered', async () => {
    const client = await redis();
    const { alerter: a } = alerter(client, []);
    expect(await a.raise(backupFailed)).toBe('no-channel');
    expect((await recentAlerts(client))[0]).toMatchObject({ kind: 'backup-failed', outcome: 'no-channel' });
  });
});
