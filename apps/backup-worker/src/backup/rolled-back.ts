import type { LedgerBatch } from '@datasync/db';
import { idempotencyRecordKey, runScript } from '@datasync/runtime';
import type { RolledBackBatch } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

interface IdempotencyRecord {
  batchId?: string;
  startedAt?: number;
}

/**
 * After a restore: the batches it rolled back, each with its idempotency record cleared, so a
 * sender's retry with the same Idempotency-Key (or the same body) is taken as a new batch instead
 * of being answered with the receipt of rows that are gone. Never throws: the database is already
 * swapped, so a failure here is logged and reported per batch (`idempotencyCleared: false`).
 */
export async function clearRolledBack(
  redis: Redis | undefined,
  batches: LedgerBatch[],
  logger: Logger,
): Promise<RolledBackBatch[]> {
  const result: RolledBackBatch[] = [];
  for (const batch of batches) {
    const entry: RolledBackBatch = {
      batchId: batch.batchId,
      source: batch.source,
      kind: batch.kind,
      rows: batch.stored,
      rejected: batch.rejected,
      receivedAt: null,
      committedAt: batch.committedAt,
      // Only API batches have idempotency records; an import's own bookkeeping was restored with the database.
      idempotencyCleared: batch.kind !== 'api-batch',
    };
    if (batch.kind === 'api-batch' && redis) {
      try {
        Object.assign(entry, await clearRecord(redis, batch));
      } catch (error) {
        logger.error(
          { batchId: batch.batchId, err: (error as Error).message },
          'could not clear the idempotency record of a rolled-back batch: a resend gets the old receipt until it expires',
        );
      }
    }
    result.push(entry);
  }
  return result;
}

async function clearRecord(redis: Redis, batch: LedgerBatch) {
  const key = idempotencyRecordKey(batch.source, batch);
  const text = await redis.get(key);
  // Expired (IDEMPOTENCY_TTL_SECONDS): nothing stands in the way of a resend.
  if (text === null) return { idempotencyCleared: true };
  let record: IdempotencyRecord = {};
  try {
    record = JSON.parse(text) as IdempotencyRecord;
  } catch {
    // Not a record of ours: left alone.
  }
  if (record.batchId !== batch.batchId) return { idempotencyCleared: true };
  const receivedAt = typeof record.startedAt === 'number' ? new Date(record.startedAt).toISOString() : null;
  // Deleted only while it is still the record read: a newer record is another batch's.
  const deleted = (await runScript(redis, 'delete-if-equal', [key], [text])) as number;
  return { receivedAt, idempotencyCleared: deleted === 1 || (await redis.exists(key)) === 0 };
}
