import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_PREFIX, idempotencyKeyHash, idempotencyRecordKey, runScript } from '@datasync/runtime';
import type { BatchReceipt } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import { conflict, unprocessable } from '../errors.js';

/**
 * Idempotency records in Redis (the IETF Idempotency-Key draft): the first request with a key (or,
 * without one, with a body) records its batch id; a retry gets the first answer; the same key with
 * another body is 422; a retry while the first is still in flight is 409 with Retry-After.
 *
 * A request whose api died between enqueue and answer leaves an in-flight record; after
 * `staleAfterMs` a retry takes it over and enqueues again under the SAME batch id. That is safe:
 * the job id is the batch id, and the DuckDB ledger turns a second run into a no-op.
 */

interface IdempotencyRecord {
  batchId: string;
  bodyHash: string;
  state: 'in-flight' | 'done';
  startedAt: number;
  receipt?: BatchReceipt;
}

export type IdempotencyOutcome =
  | { kind: 'new'; batchId: string; recordKey: string; record: string }
  | { kind: 'replay'; receipt: BatchReceipt };

export interface IdempotencyOptions {
  redis: Redis;
  ttlSeconds: number;
  staleAfterMs?: number;
  prefix?: string;
}

export class IdempotencyStore {
  private readonly staleAfterMs: number;
  private readonly prefix: string;

  constructor(private readonly options: IdempotencyOptions) {
    this.staleAfterMs = options.staleAfterMs ?? 30_000;
    this.prefix = options.prefix ?? IDEMPOTENCY_PREFIX;
  }

  static keyHash(key: string): string {
    return idempotencyKeyHash(key);
  }

  async begin(source: string, idempotencyKey: string | null, bodyHash: string): Promise<IdempotencyOutcome> {
    const keyHash = idempotencyKey === null ? null : idempotencyKeyHash(idempotencyKey);
    const recordKey = idempotencyRecordKey(source, { idempotencyKeyHash: keyHash, bodyHash }, this.prefix);
    for (let attempt = 0; attempt < 5; attempt++) {
      const fresh: IdempotencyRecord = {
        batchId: `b_${randomUUID()}`,
        bodyHash,
        state: 'in-flight',
        startedAt: Date.now(),
      };
      const freshText = JSON.stringify(fresh);
      let existing: string | null;
      try {
        existing = (await runScript(
          this.options.redis,
          'create-or-get',
          [recordKey],
          [freshText, this.options.ttlSeconds],
        )) as string | null;
      } catch (error) {
        // Timed out: Redis may still run the command later (a paused server). Queued behind it on
        // the same connection, this release then frees the record at once for the client's retry.
        void this.release({ kind: 'new', batchId: fresh.batchId, recordKey, record: freshText });
        throw error;
      }
      if (existing === null) return { kind: 'new', batchId: fresh.batchId, recordKey, record: freshText };
      const record = JSON.parse(existing) as IdempotencyRecord;
      if (record.bodyHash !== bodyHash) {
        throw unprocessable('this Idempotency-Key was already used with a different body');
      }
      if (record.state === 'done' && record.receipt) return { kind: 'replay', receipt: record.receipt };
      const age = Date.now() - record.startedAt;
      if (age < this.staleAfterMs) {
        throw conflict(
          'a request with this Idempotency-Key (or this same body) is still being processed',
          Math.max(1, Math.ceil((this.staleAfterMs - age) / 1000)),
        );
      }
      // The first request's process died mid-way: take the record over, keeping its batch id.
      const takeover = JSON.stringify({ ...record, startedAt: Date.now() });
      const swapped = (await runScript(
        this.options.redis,
        'compare-and-set',
        [recordKey],
        [existing, takeover],
      )) as number;
      if (swapped === 1) return { kind: 'new', batchId: record.batchId, recordKey, record: takeover };
    }
    throw conflict('a request with this Idempotency-Key is being processed concurrently', 1);
  }

  /** Stores the receipt as the answer every retry gets, keeping the record's TTL. */
  async complete(
    outcome: Extract<IdempotencyOutcome, { kind: 'new' }>,
    receipt: BatchReceipt,
  ): Promise<void> {
    const record = JSON.parse(outcome.record) as IdempotencyRecord;
    const done: IdempotencyRecord = { ...record, state: 'done', receipt };
    await runScript(
      this.options.redis,
      'compare-and-set',
      [outcome.recordKey],
      [outcome.record, JSON.stringify(done)],
    );
  }

  /**
   * The request failed (Redis timed out, backlog full...): a retry may go ahead at once, and takes
   * the record over with the SAME batch id. Never a fresh one: when the enqueue timed out, Redis
   * may still have run it (a paused server runs what was sent once it resumes), and the same
   * batch id makes the retry's enqueue a no-op (job id = batch id; the DuckDB ledger) instead of
   * a second copy of the batch.
   */
  async release(outcome: Extract<IdempotencyOutcome, { kind: 'new' }>): Promise<void> {
    const record = JSON.parse(outcome.record) as IdempotencyRecord;
    await runScript(
      this.options.redis,
      'compare-and-set',
      [outcome.recordKey],
      [outcome.record, JSON.stringify({ ...record, startedAt: 0 })],
    ).catch(() => undefined);
  }
}
