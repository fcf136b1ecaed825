import type { RecordError, Sale, StoredReject } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';
import { listValue } from '@duckdb/node-api';
import { commitSalesBatches } from './sales.js';
import type { WriteContext } from './writer.js';

/**
 * The real-time stream's store: a group of Redis Stream entries commits in one transaction with
 * its sales, its quarantined entries and one `stream_entries` row per entry, so an entry delivered
 * again (its XACK lost, or claimed from a dead consumer) is found there and written once. The
 * sales and rejects go through `commitSalesBatches`, as one ledger batch of kind `stream`.
 */

export type StreamEntryOutcome = 'stored' | 'rejected' | 'dead-letter' | 'empty';

/** One entry, already judged by the consumer: a valid sale, or the reasons it is quarantined. */
export interface StreamEntryRecord {
  entryId: string;
  /** Times Redis delivered it (XPENDING's counter), kept with the entry. */
  deliveries: number;
  outcome: StreamEntryOutcome;
  /** With outcome `stored`. */
  sale?: Sale;
  /** The entry as received (JSON text), for the quarantine. */
  raw: string;
  /** With outcome `rejected` or `dead-letter`. */
  reasons?: Omit<RecordError, 'index'>[];
}

export interface StreamGroup {
  stream: string;
  /** The source its sales and rejects are stored under. */
  source: string;
  entries: readonly StreamEntryRecord[];
}

export interface StreamGroupResult {
  /** The ledger batch of this group's fresh entries, or null when every entry was a duplicate. */
  batchId: string | null;
  stored: number;
  rejected: number;
  deadLettered: number;
  /** Entries already committed earlier (a redelivery): nothing written for them. */
  duplicates: number;
}

/** The time part of an entry id (`<ms>-<seq>`). */
export function streamEntryMs(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')));
}

/** The entries of `entryIds` already committed from `stream`. */
export async function committedStreamEntryIds(
  conn: DuckDBConnection,
  stream: string,
  entryIds: readonly string[],
): Promise<Set<string>> {
  if (entryIds.length === 0) return new Set();
  let low = Number.POSITIVE_INFINITY;
  let high = 0;
  for (const id of entryIds) {
    const ms = streamEntryMs(id);
    if (ms < low) low = ms;
    if (ms > high) high = ms;
  }
  const reader = await conn.runAndReadAll(
    `SELECT entry_id FROM stream_entries
     WHERE stream = $1 AND entry_ms BETWEEN $2 AND $3 AND entry_id IN (SELECT unnest($4::VARCHAR[]))`,
    [stream, low, high, listValue([...entryIds])],
  );
  return new Set(reader.getRowObjects().map((row) => String(row.entry_id)));
}

/** Commits a group in the caller's transaction; entries already committed write nothing. */
export async function commitStreamEntries(tx: WriteContext, group: StreamGroup): Promise<StreamGroupResult> {
  const { conn, epoch } = tx;
  const seen = await committedStreamEntryIds(
    conn,
    group.stream,
    group.entries.map((e) => e.entryId),
  );
  const fresh: StreamEntryRecord[] = [];
  for (const entry of group.entries) {
    if (seen.has(entry.entryId)) continue;
    seen.add(entry.entryId); // the same entry twice in one group counts once
    fresh.push(entry);
  }
  const duplicates = group.entries.length - fresh.length;
  if (fresh.length === 0) return { batchId: null, stored: 0, rejected: 0, deadLettered: 0, duplicates };

  // The first fresh entry names the batch: once committed it is never fresh again, so the name is unique.
  const batchId = `stream:${group.stream}:${fresh[0]!.entryId}`;
  const sales: Sale[] = [];
  const rejects: StoredReject[] = [];
  for (const [index, entry] of fresh.entries()) {
    if (entry.outcome === 'stored' && entry.sale) sales.push(entry.sale);
    else if (entry.outcome === 'rejected' || entry.outcome === 'dead-letter') {
      rejects.push({
        index,
        raw: entry.raw,
        reasons: (entry.reasons ?? []).map((r) => ({ index, ...r })),
      });
    }
  }
  await commitSalesBatches(tx, [
    {
      batchId,
      source: group.source,
      idempotencyKeyHash: null,
      bodyHash: batchId,
      received: fresh.length,
      sales,
      rejects,
      kind: 'stream',
    },
  ]);
  const now = new Date().toISOString();
  const appender = await conn.createAppender('stream_entries');
  for (const entry of fresh) {
    appender.appendVarchar(group.stream);
    appender.appendVarchar(entry.entryId);
    appender.appendBigInt(BigInt(streamEntryMs(entry.entryId)));
    appender.appendVarchar(batchId);
    appender.appendVarchar(entry.outcome);
    appender.appendInteger(entry.deliveries);
    appender.appendBigInt(BigInt(epoch));
    appender.appendVarchar(now);
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
  return {
    batchId,
    stored: sales.length,
    rejected: fresh.filter((e) => e.outcome === 'rejected').length,
    deadLettered: fresh.filter((e) => e.outcome === 'dead-letter').length,
    duplicates,
  };
}

/** Entries per outcome committed from `stream`, for tests and checks. */
export async function streamEntryCounts(
  conn: DuckDBConnection,
  stream: string,
): Promise<Record<StreamEntryOutcome, number> & { distinct: number; total: number }> {
  const reader = await conn.runAndReadAll(
    `SELECT count(*) FILTER (WHERE outcome = 'stored')::BIGINT AS stored,
            count(*) FILTER (WHERE outcome = 'rejected')::BIGINT AS rejected,
            count(*) FILTER (WHERE outcome = 'dead-letter')::BIGINT AS dead,
            count(*) FILTER (WHERE outcome = 'empty')::BIGINT AS empty,
            count(DISTINCT entry_id)::BIGINT AS distinct_ids, count(*)::BIGINT AS total
     FROM stream_entries WHERE stream = $1`,
    [stream],
  );
  const row = reader.getRowObjects()[0] ?? {};
  return {
    stored: Number(row.stored ?? 0),
    rejected: Number(row.rejected ?? 0),
    'dead-letter': Number(row.dead ?? 0),
    empty: Number(row.empty ?? 0),
    distinct: Number(row.distinct_ids ?? 0),
    total: Number(row.total ?? 0),
  };
}
