import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { METRICS_KEYS } from './keys.js';
import type { Metrics } from './metrics.js';

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
