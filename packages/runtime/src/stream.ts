import type { Redis } from 'ioredis';
import { runScript } from './scripts.js';

/**
 * The Redis side of the real-time stream source (SALES_STREAM_KEY): its consumer group, its lag
 * and its trimming. The stream's key is the producers' (configured), not one of ours; the
 * sync-worker consumes it (apps/sync-worker src/stream), the health check and the metrics read
 * the lag from here.
 */

/** What is not yet committed: entries pending (delivered, not acknowledged) plus not yet delivered. */
export interface StreamLag {
  /** Entries not yet committed. */
  entries: number;
  /** Of which delivered to a consumer and not acknowledged. */
  pending: number;
  /** Age of the oldest entry not yet committed, by its id's time part (0 with none). */
  seconds: number;
  /** That entry's id, or null. */
  oldestId: string | null;
  /** Consumers the group knows (dead ones included until deleted). */
  consumers: number;
  /** False when the stream does not exist yet. */
  exists: boolean;
}

/** Counting undelivered entries one by one stops here when Redis cannot tell the lag. */
const LAG_COUNT_LIMIT = 100_000;

const entryMs = (id: string) => Number(id.slice(0, id.indexOf('-')));

/** Creates the group (at the stream's start, the stream too) unless it exists. */
export async function ensureStreamGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!/BUSYGROUP/.test((error as Error).message)) throw error;
  }
}

function fields(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** The group's lag; a group not created yet lags by the whole stream. */
export async function readStreamLag(
  redis: Redis,
  stream: string,
  group: string,
  now: number = Date.now(),
): Promise<StreamLag> {
  const none: StreamLag = { entries: 0, pending: 0, seconds: 0, oldestId: null, consumers: 0, exists: false };
  if ((await redis.exists(stream)) === 0) return none;
  const groups = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(fields);
  const info = groups.find((g) => g.name === group);
  const age = (id: string | null) => (id === null ? 0 : Math.max(0, (now - entryMs(id)) / 1000));
  if (!info) {
    const entries = await redis.xlen(stream);
    const first = (await redis.xrange(stream, '-', '+', 'COUNT', 1))[0]?.[0] ?? null;
    return { entries, pending: 0, seconds: age(first), oldestId: first, consumers: 0, exists: true };
  }
  const pending = Number(info.pending ?? 0);
  const last = String(info['last-delivered-id'] ?? '0-0');
  let undelivered: number;
  if (info.lag === null || info.lag === undefined) {
    // Redis cannot tell (entries deleted in the middle of the stream): count them, up to a limit.
    undelivered = (await redis.xrange(stream, `(${last}`, '+', 'COUNT', LAG_COUNT_LIMIT)).length;
  } else undelivered = Number(info.lag);
  let oldestId: string | null = null;
  if (pending > 0) {
    const summary = (await redis.xpending(stream, group)) as [number, string | null, string | null, unknown];
    oldestId = summary[1];
  } else if (undelivered > 0) {
    oldestId = (await redis.xrange(stream, `(${last}`, '+', 'COUNT', 1))[0]?.[0] ?? null;
  }
  return {
    entries: pending + undelivered,
    pending,
    seconds: age(oldestId),
    oldestId,
    consumers: Number(info.consumers ?? 0),
    exists: true,
  };
}

/**
 * Trims the stream to what every consumer group has acknowledged (lua/stream-trim-committed.lua):
 * an entry pending or not yet delivered to any group is never removed. Returns entries removed.
 */
export async function trimCommittedEntries(redis: Redis, stream: string): Promise<number> {
  return Number(await runScript(redis, 'stream-trim-committed', [stream], []));
}
