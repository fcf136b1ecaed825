import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DatabaseWriter } from '@datasync/db';
import type { Metrics } from '@datasync/runtime';
import type { HealthCheckItem } from '@datasync/schemas';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { copyDatabase, databaseFileSignature } from '../database-copy.js';

export interface AnalyticsSnapshotOptions {
  writer: DatabaseWriter;
  /** DATABASE_PATH: watched (size and times of the file and its log) for commits. */
  databasePath: string;
  /** ANALYTICS_SNAPSHOT_PATH. */
  path: string;
  /** ANALYTICS_SNAPSHOT_INTERVAL_S in ms: at most one copy per interval. */
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

export interface AnalyticsSnapshotStatus {
  path: string;
  intervalMs: number;
  /** When the current snapshot was renamed in (epoch ms), null before the first. */
  writtenAt: number | null;
  /** Since when the database has commits the snapshot lacks, null when it is current. */
  behindSince: number | null;
  /** The last refresh's failure, cleared by the next success. */
  lastError: string | null;
}

/**
 * The read-only copy of the database for tools outside the stack (CONTRACT.md "Reading the data
 * from other tools"). After commits, at most once per interval: a copy under the writer lock (as
 * a backup's, so ingest waits no longer than for a backup), its log folded in, written beside the
 * target and renamed over it, so a reader opens either the old file or the new one, never a torn one.
 */
export class AnalyticsSnapshot {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private copiedSignature: string | null = null;
  private state: AnalyticsSnapshotStatus;

  constructor(private readonly options: AnalyticsSnapshotOptions) {
    this.now = options.now ?? Date.now;
    this.state = {
      path: options.path,
      intervalMs: options.intervalMs,
      writtenAt: null,
      behindSince: null,
      lastError: null,
    };
  }

  /** Checks for commits every few seconds (a stat of two files); copies when due. */
  start(): this {
    const every = Math.min(this.options.intervalMs, 5_000);
    void this.tick();
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    return this;
  }

  status(): AnalyticsSnapshotStatus {
    return { ...this.state };
  }

  /** One look: copies when the database changed since the last copy and the interval has passed. */
  tick(): Promise<void> {
    if (this.closed || this.running) return this.running ?? Promise.resolve();
    this.running = this.check().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async check(): Promise<void> {
    const signature = await databaseFileSignature(this.options.databasePath);
    if (signature.startsWith('-|')) return; // no database yet
    const now = this.now();
    if (signature === this.copiedSignature && existsSync(this.options.path)) {
      this.state.behindSince = null;
      return;
    }
    this.state.behindSince ??= now;
    const { writtenAt } = this.state;
    if (writtenAt !== null && now - writtenAt < this.options.intervalMs && !this.state.lastError) return;
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const { path, logger } = this.options;
    const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
    const started = performance.now();
    try {
      await mkdir(dirname(path), { recursive: true });
      await removeCopy(temp);
      const copy = await copyDatabase(this.options.writer, temp);
      await rename(temp, path);
      this.copiedSignature = copy.signature;
      this.state = { ...this.state, writtenAt: this.now(), behindSince: null, lastError: null };
      logger.info(
        {
          path,
          bytes: (await stat(path)).size,
          lockHeldMs: Math.round(copy.heldMs),
          ms: Math.round(performance.now() - started),
        },
        'analytics snapshot refreshed',
      );
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.state.lastError)
        logger.warn({ path, err: message }, 'analytics snapshot not refreshed: the previous one stays');
      this.state.lastError = message;
      await removeCopy(temp).catch(() => undefined);
    }
  }
}

async function removeCopy(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.wal`, { force: true });
}

const MINUTE = 60_000;

/** The health check's view: current, catching up within its interval, behind, or failing. */
export function snapshotCheck(status: AnalyticsSnapshotStatus, now: number): HealthCheckItem {
  const name = 'analytics snapshot';
  const age = (ms: number) =>
    ms < 2 * MINUTE ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / MINUTE)} min`;
  if (status.writtenAt === null)
    return status.lastError
      ? { name, status: 'fail', detail: `${status.path} could not be written: ${status.lastError}` }
      : { name, status: 'warn', detail: `${status.path} not written yet (the first copy is under way)` };
  const written = `${status.path} written ${age(now - status.writtenAt)} ago`;
  if (status.lastError)
    return { name, status: 'warn', detail: `${written}; the last refresh failed: ${status.lastError}` };
  // Behind by more than three intervals (and a minute for a long copy): the copies do not keep up.
  const late = status.behindSince !== null && now - status.behindSince > 3 * status.intervalMs + MINUTE;
  if (late)
    return {
      name,
      status: 'warn',
      detail: `${written}; behind the database for ${age(now - status.behindSince!)}`,
    };
  return {
    name,
    status: 'ok',
    detail:
      status.behindSince === null
        ? `${written}; current`
        : `${written}; newer commits copied within ${age(status.intervalMs)}`,
  };
}

/** The snapshot's age (since renamed in) and lag (since the first commit it lacks) in /metrics. */
export function snapshotMetrics(metrics: Metrics, snapshot: AnalyticsSnapshot): void {
  new Gauge({
    name: 'datasync_analytics_snapshot_age_seconds',
    help: 'Seconds since the analytics snapshot (ANALYTICS_SNAPSHOT_PATH) was last refreshed',
    registers: [metrics.registry],
    aggregator: 'min',
    collect() {
      const { writtenAt } = snapshot.status();
      if (writtenAt !== null) this.set(Math.max(0, (Date.now() - writtenAt) / 1000));
    },
  });
  // The age alone grows on a quiet day while the copy is current: this says whether it lags.
  new Gauge({
    name: 'datasync_analytics_snapshot_behind_seconds',
    help: 'Seconds the analytics snapshot has lacked commits made to the database (0: current)',
    registers: [metrics.registry],
    aggregator: 'min',
    collect() {
      const { behindSince } = snapshot.status();
      this.set(behindSince === null ? 0 : Math.max(0, (Date.now() - behindSince) / 1000));
    },
  });
}
