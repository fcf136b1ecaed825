import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type ReconcileDeps, type ReconcileReport, reconcileTimetable } from './reconcile.js';
import type { ConfiguredSchedule } from './timetable.js';

export interface TimetableSchedulerOptions extends ReconcileDeps {
  schedules: readonly ConfiguredSchedule[];
  logger: Logger;
  /** Re-reconcile this often (repairs a scheduler removed by hand); 0: only at start and SIGHUP. */
  reconcileEveryMs?: number;
}

/**
 * The scheduler process's one concern: reconcile (with catch-up) at start, retrying while Redis is
 * unreachable, then again every `reconcileEveryMs` (without catch-up) and on demand.
 */
export class TimetableScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: TimetableSchedulerOptions) {}

  async start(): Promise<ReconcileReport | null> {
    let backoffMs = 500;
    for (;;) {
      if (this.closed) return null;
      try {
        const report = await this.reconcile({ catchUp: true });
        const every = this.options.reconcileEveryMs ?? 15 * 60_000;
        if (every > 0 && !this.closed) {
          this.timer = setInterval(
            () => void this.reconcile({ catchUp: false }).catch(() => undefined),
            every,
          );
          this.timer.unref();
        }
        return report;
      } catch (error) {
        this.options.logger.warn(
          { err: (error as Error).message, retryInMs: backoffMs },
          'could not reconcile the timetable; retrying',
        );
        await delay(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  /** One reconcile at a time in this process; logs what changed. */
  reconcile(options: { catchUp: boolean }): Promise<ReconcileReport> {
    const run = async () => {
      const report = await reconcileTimetable(this.options.schedules, this.options, options);
      this.options.logger.info(
        {
          ...report,
          timetable: this.options.schedules.map((s) => ({
            id: s.definition.id,
            cron: s.pattern ?? 'off',
            tz: s.tz,
          })),
        },
        'timetable reconciled',
      );
      return report;
    };
    const next = this.running.then(run, run);
    this.running = next.catch(() => undefined);
    return next;
  }

  /** Stops the periodic reconcile and waits for one under way; safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
