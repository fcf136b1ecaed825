import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { QueueName } from '@datasync/schemas';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { LAST_SUCCESS_KEY, METRICS_KEYS } from './keys.js';
import {
  clearOutsideHolder,
  type OutsideHolder,
  publishOutsideHolder,
  readOutsideHolder,
} from './writer-status.js';

/**
 * Every datasync metric, defined once. Each process builds one `Metrics`; the workers publish
 * theirs to Redis (`MetricsPublisher`) and the api serves its own merged with all published ones
 * (`gatherStackMetrics`), so one scrape of `/metrics` shows the whole stack (docs/monitoring.md).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly jobDuration = new Histogram({
    name: 'datasync_job_duration_seconds',
    help: 'Duration of a job’s final attempt, from active to completed or failed',
    labelNames: ['queue', 'type', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly rowsAccepted = new Counter({
    name: 'datasync_rows_accepted_total',
    help: 'Sales rows committed to DuckDB by ingest jobs (a duplicate batch adds none)',
    registers: [this.registry],
  });
  readonly rowsRejected = new Counter({
    name: 'datasync_rows_rejected_total',
    help: 'Sales records quarantined in the rejects table by ingest jobs',
    registers: [this.registry],
  });
  readonly lockWait = new Histogram({
    name: 'datasync_writer_lock_wait_seconds',
    help: 'Time a process waited for the single writer lock',
    labelNames: ['process'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });
  readonly lockHold = new Histogram({
    name: 'datasync_writer_lock_hold_seconds',
    help: 'Time a process held the single writer lock before handing it over',
    labelNames: ['process'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly alertsRaised = new Counter({
    name: 'datasync_alerts_raised_total',
    help: 'Alert incidents raised, by kind (sent or held back by the cool-down)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly alertsSuppressed = new Counter({
    name: 'datasync_alerts_suppressed_total',
    help: 'Alerts not sent because the same alert was sent within ALERT_COOLDOWN_MINUTES',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly alertsSent = new Counter({
    name: 'datasync_alerts_sent_total',
    help: 'Alerts delivered, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly alertFailures = new Counter({
    name: 'datasync_alert_failures_total',
    help: 'Alerts a channel failed to deliver (logged; never fails the job reported on)',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly scheduleSkips = new Counter({
    name: 'datasync_schedule_skipped_runs_total',
    help: 'Scheduled runs skipped because the previous run of the schedule was still active',
    labelNames: ['schedule'] as const,
    registers: [this.registry],
  });
  readonly scheduleMissed = new Counter({
    name: 'datasync_schedule_missed_total',
    help: 'Scheduled runs that had not started SCHEDULE_GRACE_MINUTES after they were due',
    labelNames: ['schedule'] as const,
    registers: [this.registry],
  });
  private databasePath: string | null = null;
  readonly databaseSize = ((owner: Metrics) =>
    new Gauge({
      name: 'datasync_database_size_bytes',
      help: 'Size of the DuckDB file and its write-ahead log, as a worker sees it',
      aggregator: 'max',
      registers: [this.registry],
      collect() {
        if (!owner.databasePath) return;
        const bytes = fileSize(owner.databasePath) + fileSize(`${owner.databasePath}.wal`);
        if (bytes > 0) this.set(bytes);
      },
    }))(this);

  constructor(readonly processName: string) {}

  /** Reports the database file's size at each collection (in the workers, which share the file). */
  trackDatabaseFile(path: string): void {
    this.databasePath = path;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * `DatabaseWriter`'s observer: lock wait and hold times into the histograms; with `redis`, a
 * process outside the stack that keeps the writer from the file is published for the health
 * check, /metrics and the alert (writer-status.ts). The writer repeats it about every second.
 */
export function writerObserver(metrics: Metrics, redis?: Redis) {
  const labels = { process: metrics.processName };
  const blocked = `${metrics.processName}:${hostname()}:${process.pid}`;
  return {
    lockWaited: (ms: number) => metrics.lockWait.observe(labels, ms / 1000),
    lockHeld: (ms: number) => metrics.lockHold.observe(labels, ms / 1000),
    outsideHolder: (holder: Omit<OutsideHolder, 'blocked'> | null) => {
      if (!redis) return;
      const write = holder
        ? publishOutsideHolder(redis, { ...holder, blocked }, 5_000)
        : clearOutsideHolder(redis);
      void write.catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------- publishing through Redis

const INSTANCES_KEY = METRICS_KEYS.instances;
const instanceKey = METRICS_KEYS.instance;

export interface MetricsPublisherOptions {
  redis: Redis;
  metrics: Metrics;
  intervalMs?: number;
  instance?: string;
}

/**
 * Writes a process's metrics (prom-client JSON) to Redis every few seconds with a TTL of three
 * intervals, so a process that dies drops out of the stack's metrics on its own.
 */
export class MetricsPublisher {
  private timer: NodeJS.Timeout | null = null;
  readonly instance: string;
  private readonly intervalMs: number;

  constructor(private readonly options: MetricsPublisherOptions) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.instance = options.instance ?? `${options.metrics.processName}:${hostname()}:${process.pid}`;
  }

  start(): this {
    if (this.timer) return this;
    void this.publish();
    this.timer = setInterval(() => void this.publish(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  async publish(): Promise<void> {
    try {
      const json = await this.options.metrics.registry.getMetricsAsJSON();
      const key = instanceKey(this.instance);
      await this.options.redis
        .multi()
        .set(key, JSON.stringify(json), 'PX', this.intervalMs * 3)
        .zadd(INSTANCES_KEY, Date.now(), key)
        .exec();
    } catch {
      // Redis down: the next interval tries again; metrics are never worth failing work for.
    }
  }

  /** Stops publishing and withdraws this process's metrics; safe to call twice. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const key = instanceKey(this.instance);
    await this.options.redis
      .multi()
      .del(key)
      .zrem(INSTANCES_KEY, key)
      .exec()
      .catch(() => undefined);
  }
}

/** Every process's published metrics, in prom-client JSON; expired instances are forgotten. */
export async function readPublishedMetrics(
  redis: Redis,
): Promise<MetricObjectWithValues<MetricValue<string>>[][]> {
  const keys = await redis.zrange(INSTANCES_KEY, 0, -1);
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  const gone = keys.filter((_, i) => values[i] === null);
  if (gone.length) await redis.zrem(INSTANCES_KEY, ...gone);
  return values.flatMap((text) => {
    if (!text) return [];
    try {
      return [JSON.parse(text)];
    } catch {
      return [];
    }
  });
}

/**
 * The whole stack's metrics in Prometheus text: this process's registry merged with every
 * published one (counters and histograms summed, gauges by their aggregator).
 */
export async function gatherStackMetrics(
  redis: Redis,
  own: Registry,
): Promise<{ contentType: string; text: string }> {
  const published = await readPublishedMetrics(redis).catch(() => []);
  const merged = AggregatorRegistry.aggregate([await own.getMetricsAsJSON(), ...published]);
  return { contentType: own.contentType, text: await merged.metrics() };
}

// ---------------------------------------------------------------- the api's view of the stack

/**
 * The api's registry: Node's default process metrics, queue depth by state, and the ages of the
 * last successful sales sync and backup (recorded in Redis by the operations monitor), all read
 * at scrape time.
 */
export function apiMetrics(queues: Map<QueueName, Queue>, redis: Redis): Metrics {
  const metrics = new Metrics('api');
  collectDefaultMetrics({ register: metrics.registry });
  new Gauge({
    name: 'datasync_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const [name, queue] of queues) {
        const counts = await queue
          .getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed', 'completed')
          .catch(() => null);
        for (const [state, n] of Object.entries(counts ?? {})) this.set({ queue: name, state }, n);
      }
    },
  });
  const age = (name: string, help: string, jobName: string) =>
    new Gauge({
      name,
      help,
      // Labelled so that "never" is no sample at all: an unlabelled gauge would read 0, "just now".
      labelNames: ['job'] as const,
      registers: [metrics.registry],
      aggregator: 'max',
      async collect() {
        this.reset();
        const at = Number(await redis.hget(LAST_SUCCESS_KEY, jobName).catch(() => null));
        if (at > 0) this.set({ job: jobName }, Math.max(0, (Date.now() - at) / 1000));
      },
    });
  new Gauge({
    name: 'datasync_database_outside_holder_seconds',
    help: 'Seconds a process outside datasync (pid, program) has kept the writer from the DuckDB file',
    labelNames: ['pid', 'program'] as const,
    registers: [metrics.registry],
    aggregator: 'max',
    async collect() {
      this.reset();
      const holder = await readOutsideHolder(redis).catch(() => null);
      if (!holder) return;
      const seconds = Math.max(0, (Date.now() - Date.parse(holder.since)) / 1000);
      this.set({ pid: String(holder.pid ?? 'unknown'), program: holder.program ?? 'unknown' }, seconds);
    },
  });
  age('datasync_last_sync_age_seconds', 'Seconds since the last successful sales sync job', 'sales-sync');
  age('datasync_last_backup_age_seconds', 'Seconds since the newest backup was made', 'backup');
  return metrics;
}
