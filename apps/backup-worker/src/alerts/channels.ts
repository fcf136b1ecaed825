import type { EnvConfig } from '@datasync/schemas';
import { createTransport } from 'nodemailer';

export type AlertKind =
  | 'sync-no-sales'
  | 'backup-failed'
  | 'job-out-of-retries'
  | 'health-check-failed'
  | 'schedule-missed'
  | 'database-held-outside'
  | 'login-failures';

/** One incident to tell people about. `key` names the incident: the cool-down is per key. */
export interface Alert {
  kind: AlertKind;
  key: string;
  title: string;
  detail: string;
  severity: 'warning' | 'critical';
  at: string;
}

/** Somewhere alerts go. `send` rejects when the alert did not get there. */
export interface AlertChannel {
  readonly name: string;
  send(alert: Alert): Promise<void>;
  close?(): void;
}

export function alertText(alert: Alert): string {
  return `[datasync ${alert.severity}] ${alert.title}\n${alert.detail}\n(${alert.kind}, ${alert.at})`;
}

/** A Slack incoming webhook: a JSON `{text}` POST; anything but 2xx is a failure. */
export class SlackChannel implements AlertChannel {
  readonly name = 'slack';

  constructor(
    private readonly webhookUrl: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async send(alert: Alert): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: alertText(alert) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      // The webhook URL is a secret: name the failure, never the address.
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new AlertDeliveryError(`Slack webhook unreachable (${cause})`);
    }
    await response.body?.cancel().catch(() => undefined);
    if (!response.ok) throw new AlertDeliveryError(`Slack webhook answered ${response.status}`);
  }
}

/** Mail over SMTP (nodemailer); `smtp://user:password@host:587` or `smtps://`. */
export class EmailChannel implements AlertChannel {
  readonly name = 'email';
  private readonly transport: ReturnType<typeof createTransport>;

  constructor(
    smtpUrl: string,
    private readonly to: string,
    private readonly from: string,
    timeoutMs = 10_000,
  ) {
    this.transport = createTransport({
      url: smtpUrl,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
  }

  async send(alert: Alert): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.from,
        to: this.to,
        subject: `[datasync ${alert.severity}] ${alert.title}`,
        text: alertText(alert),
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new AlertDeliveryError(`SMTP delivery failed (${code ?? (error as Error).message})`);
    }
  }

  close(): void {
    this.transport.close();
  }
}

export class AlertDeliveryError extends Error {
  override readonly name = 'AlertDeliveryError';
}

/** The channels the configuration asks for: Slack when SLACK_WEBHOOK, mail when SMTP_URL and ALERT_EMAIL. */
export function alertChannelsFromConfig(
  config: Pick<EnvConfig, 'SLACK_WEBHOOK' | 'SMTP_URL' | 'ALERT_EMAIL' | 'ALERT_FROM'>,
): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (config.SLACK_WEBHOOK) channels.push(new SlackChannel(config.SLACK_WEBHOOK));
  if (config.SMTP_URL && config.ALERT_EMAIL)
    channels.push(new EmailChannel(config.SMTP_URL, config.ALERT_EMAIL, config.ALERT_FROM));
  return channels;
}
