import { ALERT_KEYS, type Metrics } from '@datasync/runtime';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Alert, AlertChannel, AlertKind } from './channels.js';

export interface AlerterOptions {
  redis: Redis;
  channels: AlertChannel[];
  /** The same incident key is not sent again within this (ALERT_COOLDOWN_MINUTES). */
  cooldownMs: number;
  logger: Logger;
  metrics?: Metrics;
}

export type AlertOutcome = 'sent' | 'suppressed' | 'failed' | 'no-channel';

export interface RaisedAlert {
  kind: AlertKind;
  key: string;
  title: string;
  detail: string;
  severity?: Alert['severity'];
}

/**
 * Sends alerts to every configured channel, at most once per incident key within the cool-down
 * (a Redis key set with NX, so every process and replica shares it). `raise` never throws: an
 * alert that cannot be delivered is logged and counted, and the job it reports on keeps its own
 * result. When every channel failed, the cool-down is lifted so the next occurrence tries again.
 */
export class Alerter {
  constructor(private readonly options: AlerterOptions) {}

  async raise(input: RaisedAlert): Promise<AlertOutcome> {
    try {
      return await this.deliver(input);
    } catch (error) {
      this.options.logger.error(
        { alert: input.kind, err: (error as Error).message },
        'alert handling failed',
      );
      return 'failed';
    }
  }

  private async deliver(input: RaisedAlert): Promise<AlertOutcome> {
    const { logger, metrics, channels, redis, cooldownMs } = this.options;
    const alert: Alert = { severity: 'critical', ...input, at: new Date().toISOString() };
    metrics?.alertsRaised.inc({ kind: alert.kind });
    const log = logger.child({ alert: alert.kind, key: alert.key });
    if (channels.length === 0) {
      log.warn({ title: alert.title, detail: alert.detail }, 'alert (no channel configured)');
      await this.remember(alert, 'no-channel', []);
      return 'no-channel';
    }
    const cooldownKey = ALERT_KEYS.cooldown(alert.key);
    if (cooldownMs > 0) {
      const fresh = await redis.set(cooldownKey, alert.at, 'PX', cooldownMs, 'NX').catch((error: Error) => {
        // Without Redis the cool-down is unknown: better a repeated alert than a lost one.
        log.warn({ err: error.message }, 'alert cool-down unreadable; sending anyway');
        return 'OK';
      });
      if (fresh === null) {
        metrics?.alertsSuppressed.inc({ kind: alert.kind });
        log.info({ title: alert.title }, 'alert held back: sent within the cool-down');
        await this.remember(alert, 'suppressed', []);
        return 'suppressed';
      }
    }
    const results = await Promise.allSettled(channels.map((channel) => channel.send(alert)));
    const failures: string[] = [];
    results.forEach((result, i) => {
      const channel = channels[i]!.name;
      if (result.status === 'fulfilled') {
        metrics?.alertsSent.inc({ channel });
      } else {
        metrics?.alertFailures.inc({ channel });
        const reason = (result.reason as Error)?.message ?? String(result.reason);
        failures.push(`${channel}: ${reason}`);
        log.error({ channel, err: reason, title: alert.title }, 'alert could not be delivered');
      }
    });
    const outcome: AlertOutcome = failures.length === channels.length ? 'failed' : 'sent';
    if (outcome === 'failed' && cooldownMs > 0) await redis.del(cooldownKey).catch(() => undefined);
    if (outcome === 'sent') log.warn({ title: alert.title, detail: alert.detail }, 'alert sent');
    await this.remember(alert, outcome, failures);
    return outcome;
  }

  close(): void {
    for (const channel of this.options.channels) channel.close?.();
  }

  private async remember(alert: Alert, outcome: AlertOutcome, failures: string[]): Promise<void> {
    await this.options.redis
      .multi()
      .lpush(ALERT_KEYS.recent, JSON.stringify({ ...alert, outcome, failures }))
      .ltrim(ALERT_KEYS.recent, 0, 199)
      .exec()
      .catch(() => undefined);
  }
}

export async function recentAlerts(
  redis: Redis,
  count = 50,
): Promise<(Alert & { outcome: AlertOutcome; failures: string[] })[]> {
  const items = await redis.lrange(ALERT_KEYS.recent, 0, count - 1);
  return items.map((text) => JSON.parse(text));
}
