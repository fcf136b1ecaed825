import {
  Leadership,
  LOGIN_KEYS,
  type Metrics,
  MONITOR_KEYS,
  newestEventId,
  QUEUE_PREFIX,
  readJobSummary,
  recordLastSuccess,
} from '@datasync/runtime';
import { INGEST_JOB, QUEUES, type QueueName, REPORT_JOBS } from '@datasync/schemas';
import { type Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Alerter } from './alerter.js';
import { OutsideHolderWatch } from './outside-holder.js';
import { alertForCompletedJob, alertForFailedJob, type FinishedJob } from './triggers.js';

export interface OperationsMonitorOptions {
  /** A worker-role connection: QueueEvents duplicates it for their blocking reads. */
  connection: Redis;
  queues: Map<QueueName, Queue>;
  alerter: Alerter;
  metrics: Metrics;
  logger: Logger;
  /** A scheduled run not started this long after it was due raises "schedule-missed". */
  scheduleGraceMs: number;
  watchIntervalMs?: number;
  leaseMs?: number;
  /**
   * Failed or refused directory sign-ins (counted by the api) within one watch interval that
   * raise "login-failures"; 0 or unset: no such alert.
   */
  loginFailureBurst?: number;
}

/** Jobs that answer an api request (reports, lists): their failure is the caller's answer, not an alert. */
const REQUEST_JOBS = new Set<string>(Object.values(REPORT_JOBS));
const MAX_TRACKED = 50_000;

const streamMs = (id: string) => Number(id.split('-')[0]);

/**
 * Watches every queue's job events and the timetable, and turns them into alerts and metrics:
 * job durations by type and outcome, rows accepted and rejected, last successful runs, and the
 * contract's alert triggers. One monitor leads at a time (`Leadership`), so replicas neither
 * double the counters nor the alerts; the leader resumes each queue's events where the last one
 * stopped.
 */
export class OperationsMonitor {
  private readonly leadership: Leadership;
  private watchTimer: NodeJS.Timeout | null = null;
  private cursorTimer: NodeJS.Timeout | null = null;
  private events: QueueEvents[] = [];
  private chains = new Map<QueueName, Promise<void>>();
  private cursors = new Map<QueueName, string>();
  private activeAt = new Map<string, number>();
  private missedSeen = new Set<string>();
  /** Failed sign-ins counted at the last check; null until the first check (the baseline). */
  private loginFailuresSeen: number | null = null;
  private leading = false;
  /** Leading and reading every queue's events from a fixed id, so no later event is missed. */
  private watching = false;
  private closed = false;
  private holderWatch: OutsideHolderWatch;

  constructor(private readonly options: OperationsMonitorOptions) {
    const { connection: redis, alerter, logger } = options;
    this.holderWatch = new OutsideHolderWatch({ redis, alerter, logger });
    this.leadership = new Leadership({
      redis,
      key: MONITOR_KEYS.leader,
      leaseMs: options.leaseMs ?? 15_000,
      logger: logger.child({ component: 'operations-monitor' }),
      duty: 'watching job events',
      onLead: () => (this.closed ? undefined : this.startLeading()),
      onStandby: () => this.stopLeading(),
    });
  }

  /** True once this monitor leads and watches every queue's events (not while it is still setting up). */
  get isLeader(): boolean {
    return this.watching;
  }

  start(): this {
    if (!this.closed) this.leadership.start();
    return this;
  }

  /** Stops watching, saves the event cursors and gives up the lead; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.leadership.close();
    await this.stopLeading();
  }

  /** Checks every job scheduler for a run that is overdue by more than the grace; exposed for tests. */
  async checkScheduleWindows(now = Date.now()): Promise<void> {
    const { queues, scheduleGraceMs, alerter, metrics, logger } = this.options;
    for (const [queueName, queue] of queues) {
      const schedulers = await queue.getJobSchedulers().catch((error: Error) => {
        logger.warn({ queue: queueName, err: error.message }, 'could not read job schedulers');
        return [];
      });
      for (const scheduler of schedulers) {
        if (!scheduler.next || now - scheduler.next <= scheduleGraceMs) continue;
        const id = scheduler.key;
        const incident = `${id}:${scheduler.next}`;
        if (!this.missedSeen.has(incident)) {
          this.missedSeen.add(incident);
          metrics.scheduleMissed.inc({ schedule: id });
        }
        const lateMinutes = Math.round((now - scheduler.next) / 60_000);
        await alerter.raise({
          kind: 'schedule-missed',
          key: `schedule-missed:${id}`,
          title: `Scheduled job ${id} did not run in its window`,
          detail: `${scheduler.name} was due at ${new Date(scheduler.next).toISOString()} (cron "${scheduler.pattern ?? ''}", ${scheduler.tz ?? 'UTC'}) and has not started ${lateMinutes} min later. Is a worker listening on the ${queueName} queue?`,
        });
      }
    }
  }

  /**
   * Compares the api's count of failed and refused sign-ins with the last check: a jump of
   * `loginFailureBurst` or more is someone guessing passwords. Exposed for tests.
   */
  async checkLoginFailures(): Promise<void> {
    const { connection, alerter, logger, loginFailureBurst } = this.options;
    if (!loginFailureBurst) return;
    const counts = await connection.hmget(LOGIN_KEYS.outcomes, 'invalid', 'locked').catch((error: Error) => {
      logger.warn({ err: error.message }, 'could not read the sign-in counts');
      return null;
    });
    if (!counts) return;
    const total = counts.reduce((sum, n) => sum + (Number(n) || 0), 0);
    const previous = this.loginFailuresSeen;
    this.loginFailuresSeen = total;
    if (previous === null || total - previous < loginFailureBurst) return;
    await alerter.raise({
      kind: 'login-failures',
      key: 'login-failures',
      title: 'A burst of failed directory sign-ins',
      detail: `${total - previous} failed or refused sign-ins since the last check: someone may be guessing passwords. Names and addresses that keep failing are locked out for LOGIN_LOCKOUT_MINUTES; see datasync_logins_total and the api log (docs/operations.md, "Directory sign-in").`,
    });
  }

  private async startLeading(): Promise<void> {
    const { connection, queues, logger } = this.options;
    this.leading = true;
    const saved = await connection.hgetall(MONITOR_KEYS.cursor);
    for (const [name, queue] of queues) {
      // Without a saved cursor, start after the newest event now, not at '$': '$' would miss what
      // happens before the blocking read begins.
      const lastEventId = saved[name] ?? (await newestEventId(connection, queue));
      const events = new QueueEvents(name, {
        connection,
        prefix: QUEUE_PREFIX,
        lastEventId,
        blockingTimeout: 5_000,
      });
      events.on('error', (error) => logger.warn({ queue: name, err: error.message }, 'job events error'));
      events.on('active', ({ jobId }, id) => this.enqueue(name, id, () => this.onActive(name, jobId, id)));
      events.on('completed', ({ jobId, returnvalue }, id) =>
        this.enqueue(name, id, () =>
          this.onFinished({ queue: name, jobId, outcome: 'completed', result: returnvalue }, id),
        ),
      );
      events.on('failed', ({ jobId, failedReason }, id) =>
        this.enqueue(name, id, () =>
          this.onFinished({ queue: name, jobId, outcome: 'failed', failedReason }, id),
        ),
      );
      this.events.push(events);
    }
    this.cursorTimer = setInterval(() => void this.saveCursors(), 1_000);
    this.cursorTimer.unref();
    const interval = this.options.watchIntervalMs ?? 60_000;
    this.watchTimer = setInterval(() => {
      void this.checkScheduleWindows();
      void this.checkLoginFailures();
    }, interval);
    this.watchTimer.unref();
    this.holderWatch.start();
    this.watching = true;
    logger.info({ queues: [...queues.keys()] }, 'operations monitor leads: watching jobs and the timetable');
  }

  private async stopLeading(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.watching = false;
    if (this.watchTimer) clearInterval(this.watchTimer);
    if (this.cursorTimer) clearInterval(this.cursorTimer);
    this.holderWatch.stop();
    this.watchTimer = null;
    this.cursorTimer = null;
    const events = this.events.splice(0);
    await Promise.all(events.map((e) => e.close().catch(() => undefined)));
    await Promise.all(this.chains.values());
    await this.saveCursors();
  }

  /** Events of one queue are handled in order, so the saved cursor never skips one. */
  private enqueue(queue: QueueName, id: string, handle: () => Promise<void>): void {
    const previous = this.chains.get(queue) ?? Promise.resolve();
    const next = previous.then(handle).then(
      () => {
        this.cursors.set(queue, id);
      },
      (error: Error) => {
        this.options.logger.error({ queue, err: error.message }, 'job event handling failed');
        this.cursors.set(queue, id);
      },
    );
    this.chains.set(queue, next);
  }

  private async saveCursors(): Promise<void> {
    if (this.cursors.size === 0) return;
    const entries = [...this.cursors.entries()].flat();
    this.cursors.clear();
    await this.options.connection.hset(MONITOR_KEYS.cursor, ...entries).catch(() => undefined);
  }

  private async onActive(queue: QueueName, jobId: string, id: string): Promise<void> {
    this.activeAt.set(`${queue}:${jobId}`, streamMs(id));
    if (this.activeAt.size > MAX_TRACKED) {
      const oldest = this.activeAt.keys().next().value;
      if (oldest !== undefined) this.activeAt.delete(oldest);
    }
  }

  private async onFinished(
    event: Omit<FinishedJob, 'name' | 'attemptsMade' | 'data'> & { queue: QueueName },
    id: string,
  ): Promise<void> {
    const { metrics, alerter } = this.options;
    const finishedMs = streamMs(id);
    const key = `${event.queue}:${event.jobId}`;
    const started = this.activeAt.get(key);
    this.activeAt.delete(key);
    const job = await this.describe(event);
    if (REQUEST_JOBS.has(job.name) || job.queue === QUEUES.reports) return;
    const skipped = (job.result as { skipped?: unknown } | null)?.skipped === true;
    const outcome = skipped ? 'skipped' : job.outcome;
    if (started !== undefined)
      metrics.jobDuration.observe(
        { queue: job.queue, type: job.name, outcome },
        Math.max(0, finishedMs - started) / 1000,
      );
    if (job.queue === QUEUES.ingest && job.outcome === 'completed') this.countRows(job.result);
    if (job.outcome === 'completed' && !skipped) {
      await recordLastSuccess(this.options.connection, job.name, finishedMs);
    }
    const alert = job.outcome === 'completed' ? alertForCompletedJob(job) : alertForFailedJob(job);
    if (alert) await alerter.raise(alert);
  }

  private countRows(result: unknown): void {
    const r = result as { stored?: number; rejected?: number; duplicate?: boolean } | null;
    if (!r || r.duplicate) return;
    if (typeof r.stored === 'number') this.options.metrics.rowsAccepted.inc(r.stored);
    if (typeof r.rejected === 'number') this.options.metrics.rowsRejected.inc(r.rejected);
  }

  /** The job's name and attempts from its hash (small fields only; sales-sync data is tiny). */
  private async describe(
    event: Omit<FinishedJob, 'name' | 'attemptsMade' | 'data'> & { queue: QueueName },
  ): Promise<FinishedJob> {
    if (event.queue === QUEUES.ingest && event.outcome === 'completed') {
      return { ...event, name: INGEST_JOB, attemptsMade: 0, data: null };
    }
    const queue = this.options.queues.get(event.queue) ?? event.queue;
    const wantData = event.queue === QUEUES.salesSync;
    const { name, attemptsMade, data } = await readJobSummary(this.options.connection, queue, event.jobId, {
      withData: wantData,
    });
    let parsed: unknown = null;
    if (wantData && data) {
      try {
        parsed = JSON.parse(data);
      } catch {
        parsed = null;
      }
    }
    return {
      ...event,
      name: name ?? (event.queue === QUEUES.ingest ? INGEST_JOB : 'unknown'),
      attemptsMade,
      data: parsed,
    };
  }
}
