import { createHash } from 'node:crypto';

/**
 * Every Redis key of our own (`datasync:*`), built here only (like BullMQ's queue-keys.ts), so the
 * process that writes a key and the one that reads or clears it cannot drift apart. BullMQ's own
 * keys live under the same prefix; reading them goes through bullmq-internals.ts.
 */

/** Where every queue lives in Redis; one prefix so several stacks can share a Redis. */
export const QUEUE_PREFIX = 'datasync';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// ---------------------------------------------------------------- leases (lease.ts)

/** The single writer lock of the DuckDB file (packages/db writer-lock.ts). */
export const WRITER_LOCK_KEY = 'datasync:writer-lock';

/** The backup-worker's lock that serialises backup, cleanup, verify and restore jobs. */
export const BACKUP_OPS_LOCK_KEY = 'datasync:backup-ops-lock';

/** A writer lock's lease and, beside it, its fair waiter line, epoch and the file's openers. */
export function writerLockKeys(lockKey: string) {
  return {
    lease: lockKey,
    /** zset: waiting tokens by arrival. */
    queue: `${lockKey}:queue`,
    /** zset: waiting tokens by last heartbeat; a waiter that stops beating leaves the line. */
    heartbeat: `${lockKey}:heartbeat`,
    /** counter: INCR at each acquire, fences stale holders. */
    epoch: `${lockKey}:epoch`,
    /** hash: the stack's processes that have the DuckDB file open. */
    openers: `${lockKey}:openers`,
  };
}

/** Leases of process roles where one replica works and the others stand by (leadership.ts). */
export const LEADER_KEYS = {
  /** string: the sync-worker that takes DuckDB work; the others stand by (docs/operations.md, Scaling). */
  syncWorker: 'datasync:leader:sync-worker',
  /** string: the backup-worker whose operations monitor watches job events and raises alerts. */
  monitor: 'datasync:ops:monitor-leader',
} as const;

// ---------------------------------------------------------------- operations monitor and alerts

export const MONITOR_KEYS = {
  leader: LEADER_KEYS.monitor,
  /** hash: queue -> id of the last job event handled, so a restarted monitor resumes there. */
  cursor: 'datasync:ops:events-cursor',
} as const;

/** hash: job name -> ms of its newest successful finish (sales-sync, backup, health-check, ...). */
export const LAST_SUCCESS_KEY = 'datasync:ops:last-success';

export const ALERT_KEYS = {
  cooldown: (key: string) => `datasync:alerts:cooldown:${key}`,
  /** list, newest first: the last 200 alerts raised, with what became of each. */
  recent: 'datasync:alerts:recent',
} as const;

export const WRITER_STATUS_KEYS = {
  /** string, JSON OutsideHolder, with a TTL refreshed while the writer is kept out. */
  outsideHolder: 'datasync:writer:outside-holder',
} as const;

export const METRICS_KEYS = {
  /** zset: key of each process's published metrics, by time of its last publish. */
  instances: 'datasync:metrics:instances',
  /** string, prom-client JSON of one process, with a TTL of three publish intervals. */
  instance: (instance: string) => `datasync:metrics:instance:${instance}`,
} as const;

// ---------------------------------------------------------------- schedules (schedules.ts)

export const SCHEDULE_KEYS = {
  /** hash: schedule id -> JSON {jobId, startedAt} of the newest run that started. */
  lastRun: 'datasync:schedules:last-run',
  /** hash: schedule id -> runs skipped because the previous run was still active. */
  skips: 'datasync:schedules:skips',
  /** list, newest first: JSON of the last 100 skips. */
  skipLog: 'datasync:schedules:skip-log',
  /** hash: schedule id -> ms when its current definition was written (catch-up starts there). */
  since: 'datasync:schedules:since',
  /** string: the scheduler replica reconciling right now. */
  reconcileLock: 'datasync:schedules:reconcile-lock',
  /** string per schedule: the job id of the run that last went through the guard. */
  claim: (scheduleId: string) => `datasync:schedules:claim:${scheduleId}`,
} as const;

// ---------------------------------------------------------------- idempotency records

/** Where the api keeps one idempotency record per source and Idempotency-Key (or body). */
export const IDEMPOTENCY_PREFIX = 'datasync:idem';

/** How an Idempotency-Key is kept (never in clear): in the record's key and the ingest ledger. */
export function idempotencyKeyHash(idempotencyKey: string): string {
  return sha256(`key:${idempotencyKey}`);
}

/**
 * The idempotency record of a batch: per source, by the hash of its Idempotency-Key, or by the
 * hash of its body when it came without one. The ledger keeps both hashes, so a restore can find
 * the record of a batch it rolled back.
 */
export function idempotencyRecordKey(
  source: string,
  batch: { idempotencyKeyHash: string | null; bodyHash: string },
  prefix = IDEMPOTENCY_PREFIX,
): string {
  const scope =
    batch.idempotencyKeyHash === null ? `body:${batch.bodyHash}` : `key:${batch.idempotencyKeyHash}`;
  return `${prefix}:${sha256(source)}:${scope}`;
}

/** A dashboard session (api): by the sha256 of its cookie value, so Redis never holds a usable one. */
export function sessionKey(sessionId: string): string {
  return `datasync:session:${sha256(sessionId)}`;
}

/**
 * Directory sign-in (api): failed attempts by user name (its sha256, lower-cased: no name in clear)
 * and by client address, each expiring LOGIN_LOCKOUT_MINUTES after its last failure; and the
 * count of sign-ins by outcome (a hash) that /metrics reads.
 */
export const LOGIN_KEYS = {
  failuresByName: (name: string) => `datasync:login:failures:name:${sha256(name.trim().toLowerCase())}`,
  failuresByAddress: (address: string) => `datasync:login:failures:address:${address}`,
  outcomes: 'datasync:login:outcomes',
} as const;

/**
 * The pub/sub channel of live events (`{type, ...}` JSON): the sync-worker publishes each commit,
 * the api fans it out to every open dashboard over server-sent events (GET /v1/events).
 */
export const EVENTS_CHANNEL = 'datasync:events';

export interface CommitEvent {
  type: 'commit';
  /** Sources whose rows this commit stored, with rows stored and rejected per source. */
  sources: { source: string; rows: number; rejected: number }[];
  batches: number;
  at: string;
}
