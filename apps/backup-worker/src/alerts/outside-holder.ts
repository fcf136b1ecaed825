import { describeOutsideHolder, outsideHolderName, readOutsideHolder } from '@datasync/runtime';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Alerter } from './alerter.js';

/**
 * Raises one alert when a process outside the stack keeps the writer from the DuckDB file (the
 * record the blocked writer publishes), and notes when it is gone. One incident is one holder
 * (PID and start); the alerter's cool-down keeps replicas and restarts from repeating it.
 */
export class OutsideHolderWatch {
  private incident: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: { redis: Redis; alerter: Alerter; logger: Logger; intervalMs?: number },
  ) {}

  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? 1_000);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async check(): Promise<void> {
    const { redis, alerter, logger } = this.options;
    const holder = await readOutsideHolder(redis).catch(() => null);
    if (!holder) {
      if (this.incident)
        logger.info({ incident: this.incident }, 'the outside process left the database file');
      this.incident = null;
      return;
    }
    const incident = `${holder.pid ?? 'unknown'}@${holder.since}`;
    if (incident === this.incident) return;
    this.incident = incident;
    await alerter.raise({
      kind: 'database-held-outside',
      key: `database-held-outside:${holder.pid ?? 'unknown'}`,
      title: `The database file is held by ${outsideHolderName(holder)} outside datasync: writes wait`,
      detail: describeOutsideHolder(holder),
    });
  }
}
