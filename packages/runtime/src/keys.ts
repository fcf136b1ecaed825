import { createHash } from 'node:crypto';

/**
 * Redis keys of our own (`datasync:*`) that more than one app spells: built here only, so the
 * api that writes a key and the worker that clears it cannot drift apart.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Where the api keeps one idempotency record per source and Idempotency-Key (or body). */
export const IDEMPOTENCY_PREFIX = 'datasync:idem';

/** The backup-worker's lock that serialises backup, cleanup, verify and restore jobs. */
export const BACKUP_OPS_LOCK_KEY = 'datasync:backup-ops-lock';

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
