import { randomUUID } from 'node:crypto';
import { INGEST_JOB, QUEUES, type QueueName, REPORT_JOBS } from '@datasync/schemas';
import { type Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { QUEUE_PREFIX } from '../queues.js';
import { recordLastSuccess } from '../schedules.js';
import type { Alerter } from './alerter.js';
import { OutsideHolderWatch } from './outside-holder.js';
import { alertForCompletedJob, alertForFailedJob, type FinishedJob } from './triggers.js';

export const MONITOR_KEYS = {
  leader: 'datasync:ops:monitor-leader',
  /** hash: queue -> id of the last job event handled, so a restarted monitor resumes there. */
  cursor: 'datasync:ops:events-cursor',
} as const;

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
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Jobs that answer an api request (reports, lists): their failure is the caller's answer, not an alert. */
const REQUEST_JOBS = new Set<string>(Object.values(REPORT_JOBS));
const MAX_TRACKED = 50_000;

const streamMs = (id: string) => Number(id.split('-')[0]);

/**
 * Watches every queue's job events and the timetable, and turns them into alerts and metrics:
 * job durations by type and outcome, rows accepted and rejected, last successful runs, and the
 * contract's alert triggers. One monitor leads at a time (a lease in Redis), so replicas neither
 * double the counters nor the alerts; the leader resumes each queue's events where the last one
 * stopped.
 */
export class OperationsMonitor {
  private readonly token = randomUUID();
  private readonly leaseMs: number;
  private leaseTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private cursorTimer: NodeJS.Timeout | null = null;
  private events: QueueEvents[] = [];
  private chains = new Map<QueueName, Promise<void>>();
  private cursors = new Map<QueueName, string>();
  private activeAt = new Map<string, number>();
  private missedSeen = new Set<string>();
  private leading = false;
  private closed = false;
  private holderWatch: OutsideHolderWatch;

  constructor(private readonly options: OperationsMonitorOptions) {
    this.leaseMs = options.leaseMs ?? 15_000;
    const { connection: redis, alerter, logger } = options;
    this.holderWatch = new OutsideHolderWatch({ redis, alerter, logger });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): this {
    if (this.leaseTimer || this.closed) return this;
    void this.tickLease();
    this.leaseTimer = setInterval(() => void this.tickLease(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.leaseTimer.unref();
    return this;
  }

  /** Stops watching, saves the event cursors and gives up the lead; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = null;
    await this.stopLeading();
    await this.options.connection.eval(RELEASE, 1, MONITOR_KEYS.leader, this.token).catch(() => undefined);
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

  private async tickLease(): Promise<void> {
    if (this.closed) return;
    const { connection, logger } = this.options;
    try {
      if (this.leading) {
        const renewed = await connection.eval(RENEW, 1, MONITOR_KEYS.leader, this.token, this.leaseMs);
        if (renewed !== 1) {
          logger.warn('operations monitor lost its lead; another replica watches now');
          await this.stopLeading();
        }
      } else {
        const won = await connection.set(MONITOR_KEYS.leader, this.token, 'PX', this.leaseMs, 'NX');
        if (won === 'OK' && !this.closed) await this.startLeading();
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'operations monitor lease check failed');
    }
  }

  private async startLeading(): Promise<void> {
    const { connection, queues, logger } = this.options;
    this.leading = true;
    const saved = await connection.hgetall(MONITOR_KEYS.cursor);
    for (const [name, queue] of queues) {
      // Without a saved cursor, start after the newest event now, not at '$': '$' would miss what
      // happens before the blocking read begins.
      const lastEventId = saved[name] ?? (await this.newestEventId(queue));
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
    this.watchTimer = setInterval(() => void this.checkScheduleWindows(), interval);
    this.watchTimer.unref();
    this.holderWatch.start();
    logger.info({ queues: [...queues.keys()] }, 'operations monitor leads: watching jobs and the timetable');
  }

  private async stopLeading(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
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

  private async newestEventId(queue: Queue): Promise<string> {
    const newest = (await this.options.connection.xrevrange(
      queue.keys.events ?? queue.toKey('events'),
      '+',
      '-',
      'COUNT',
      1,
    )) as [string, string[]][];
    return newest[0]?.[0] ?? '0-0';
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
    const queue = this.options.queues.get(event.queue);
    const key = queue ? queue.toKey(event.jobId) : `${QUEUE_PREFIX}:${event.queue}:${event.jobId}`;
    const wantData = event.queue === QUEUES.salesSync;
    const [name, atm, data] = await this.options.connection.hmget(
      key,
      'name',
      'atm',
      wantData ? 'data' : 'name',
    );
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
      attemptsMade: Number(atm ?? 0),
      data: parsed,
    };
  }
}
