import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { WRITER_STATUS_KEYS } from './keys.js';
import type { Metrics } from './metrics.js';

/**
 * A process outside the stack (the DuckDB CLI, a BI tool, the old Streamlit dashboard) that holds
 * the DuckDB file while the writer lock's holder waits for it. The blocked writer publishes it
 * here; the health check, the api's /metrics and the operations monitor (one alert) read it, so
 * none of them has to wait on the file itself. The record expires on its own when the blocked
 * writer dies, and is deleted when the writer gets the file.
 */
export interface OutsideHolder {
  /** The holder's PID as DuckDB names it (null when DuckDB could not see it, e.g. another container). */
  pid: number | null;
  /** The holder's program path as DuckDB names it, e.g. /usr/bin/duckdb. */
  program: string | null;
  /** The database file. */
  path: string;
  /** When the writer was first kept out (ISO time). */
  since: string;
  /** The process kept out, e.g. sync-worker:host:1234. */
  blocked: string;
}

export async function publishOutsideHolder(
  redis: Redis,
  holder: OutsideHolder,
  ttlMs: number,
): Promise<void> {
  await redis.set(WRITER_STATUS_KEYS.outsideHolder, JSON.stringify(holder), 'PX', ttlMs);
}

export async function clearOutsideHolder(redis: Redis): Promise<void> {
  await redis.del(WRITER_STATUS_KEYS.outsideHolder);
}

export async function readOutsideHolder(redis: Redis): Promise<OutsideHolder | null> {
  const text = await redis.get(WRITER_STATUS_KEYS.outsideHolder);
  if (!text) return null;
  try {
    return JSON.parse(text) as OutsideHolder;
  } catch {
    return null;
  }
}

/** "/usr/bin/duckdb (PID 4242)", or what is known of it. */
export function outsideHolderName(holder: Pick<OutsideHolder, 'pid' | 'program'>): string {
  const program = holder.program || 'a process';
  return holder.pid ? `${program} (PID ${holder.pid})` : `${program} (PID not visible from here)`;
}

/** One sentence for a log line, a health check and an alert: who, which file, since when, what to do. */
export function describeOutsideHolder(holder: OutsideHolder, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(holder.since)) / 1000));
  return (
    `${outsideHolderName(holder)}, a process outside datasync, holds the database file ${holder.path} ` +
    `(for ${seconds} s): writes wait until it closes the file. Stop it ` +
    `(fuser -v ${holder.path} or lsof ${holder.path} finds it); never open the live file, ` +
    'read through the api or a copy (docs/operations.md)'
  );
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
