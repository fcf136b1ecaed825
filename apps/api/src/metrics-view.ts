import {
  LAST_SUCCESS_KEY,
  LOGIN_KEYS,
  Metrics,
  readOutsideHolder,
  readPublishedMetrics,
} from '@datasync/runtime';
import { JOBS, type QueueName } from '@datasync/schemas';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/**
 * The api's view of the stack's metrics for `GET /metrics`: its own gauges read at scrape time,
 * merged with what every worker published (packages/runtime metrics-publishing.ts).
 */

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
  new Counter({
    name: 'datasync_logins_total',
    help: 'Directory sign-ins by outcome: success, invalid, forbidden, locked, unavailable',
    labelNames: ['outcome'] as const,
    registers: [metrics.registry],
    // Counted in Redis by every api (routes/directory-login.ts): each reads the same totals.
    aggregator: 'max',
    async collect() {
      this.reset();
      const counts = await redis.hgetall(LOGIN_KEYS.outcomes).catch(() => ({}));
      for (const [outcome, n] of Object.entries(counts)) this.inc({ outcome }, Number(n));
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
  age('datasync_last_sync_age_seconds', 'Seconds since the last successful sales sync job', JOBS.salesSync);
  age('datasync_last_backup_age_seconds', 'Seconds since the newest backup was made', JOBS.backup);
  return metrics;
}
