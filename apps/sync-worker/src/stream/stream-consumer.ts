import { setTimeout as delay } from 'node:timers/promises';
import {
  commitStreamEntries,
  DatabaseFatalError,
  type DatabaseWriter,
  LockLostError,
  type StreamEntryRecord,
  type StreamGroupResult,
} from '@datasync/db';
import { ensureStreamGroup, type Metrics, trimCommittedEntries } from '@datasync/runtime';
import { latestSaleDate } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CommitStats } from '../ingest/group-committer.js';
import { entryFields, entryRaw, judgeStreamEntry } from './stream-entry.js';

export interface StreamConsumerOptions {
  /** A connection of its own: a blocking XREADGROUP holds it. */
  redis: Redis;
  writer: DatabaseWriter;
  logger: Logger;
  stream: string;
  group: string;
  consumer: string;
  /** Entries read, and committed in one transaction, at a time. */
  readCount: number;
  /** How long a read waits for new entries. */
  blockMs: number;
  /** An entry delivered more often than this is dead-lettered (quarantined unread, acknowledged). */
  maxDeliveries: number;
  /** Entries pending this long at another consumer (a dead one) are claimed. */
  claimIdleMs: number;
  /** Trim the stream to what every group has acknowledged. */
  trim: boolean;
  /** Sales and rejects are stored under this source; default `stream:<stream>`. */
  source?: string;
  metrics?: Metrics;
  onCommitted?: (stats: CommitStats) => void;
  /** Pause after a failed read or commit before reading the own pending entries again. */
  retryMs?: number;
  /** Trim at most this often. */
  trimIntervalMs?: number;
}

interface Entry {
  id: string;
  fields: string[] | null;
  deliveries: number;
}

type RawEntry = [string, string[] | null];
type Phase = 'own' | 'claim' | 'new';

/**
 * Consumes SALES_STREAM_KEY with a consumer group, at least once from Redis and exactly once into
 * DuckDB: each group of entries commits in one transaction with their ids (stream_entries), and is
 * acknowledged (XACK) only after the commit, so a redelivered entry is found and written once.
 *
 * Order of reading: first this consumer's own pending entries (left by a crash or a failed
 * commit: XREADGROUP from id 0, which also counts their deliveries), then entries pending at a dead
 * consumer for `claimIdleMs` (XAUTOCLAIM), then new ones ('>'), claiming again every `claimIdleMs`.
 * After a failure it pauses and starts over with its own pending entries, so an entry that keeps
 * failing is delivered again and again until it is dead-lettered.
 *
 * `start()` and `stop()` follow the sync-worker's lead (only the leader consumes: see Leadership);
 * `stop()` stops reading, commits and acknowledges the group under way, and resolves. Both are safe
 * to call twice.
 */
export class StreamConsumer {
  private running: Promise<void> | null = null;
  private stopping = false;
  private lastTrim = 0;
  private readonly source: string;
  private readonly log: Logger;

  constructor(private readonly options: StreamConsumerOptions) {
    this.source = options.source ?? `stream:${options.stream}`;
    this.log = options.logger.child({
      stream: options.stream,
      group: options.group,
      consumer: options.consumer,
    });
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  start(): this {
    if (this.running) return this;
    this.stopping = false;
    this.running = this.run().finally(() => {
      this.running = null;
    });
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async run(): Promise<void> {
    const { redis, stream, group } = this.options;
    let phase: Phase = 'own';
    let ownCursor = '0';
    let claimCursor = '0-0';
    let lastClaim = 0;
    this.log.info('stream consumer started: its own pending entries first');
    while (!this.stopping) {
      try {
        if (phase === 'own' && ownCursor === '0') await ensureStreamGroup(redis, stream, group);
        let entries: Entry[];
        if (phase === 'own') {
          entries = await this.withDeliveries(await this.read(ownCursor));
          if (entries.length === 0) {
            phase = 'claim';
            claimCursor = '0-0';
            continue;
          }
          ownCursor = entries[entries.length - 1]!.id;
        } else if (phase === 'claim') {
          const [next, claimed] = await this.claim(claimCursor);
          lastClaim = Date.now();
          claimCursor = next;
          if (next === '0-0') phase = 'new';
          entries = await this.withDeliveries(claimed);
          if (entries.length > 0)
            this.log.info({ entries: entries.length }, 'claimed entries left pending by another consumer');
        } else {
          if (Date.now() - lastClaim >= this.options.claimIdleMs) {
            phase = 'claim';
            claimCursor = '0-0';
            continue;
          }
          entries = (await this.read('>', this.options.blockMs)).map(([id, fields]) => ({
            id,
            fields,
            deliveries: 1,
          }));
        }
        if (entries.length === 0) continue;
        await this.commitAndAck(entries);
        await this.maybeTrim();
      } catch (error) {
        if (error instanceof DatabaseFatalError) throw error; // the writer ends the process
        this.log.warn(
          { err: (error as Error).message },
          'stream group not committed; its entries stay pending and are read again',
        );
        if (!this.stopping) await delay(this.options.retryMs ?? 1_000);
        phase = 'own';
        ownCursor = '0';
      }
    }
    this.log.info('stream consumer stopped');
  }

  private async read(id: string, blockMs?: number): Promise<RawEntry[]> {
    const { redis, group, consumer, readCount, stream } = this.options;
    const reply = (
      blockMs === undefined
        ? await redis.xreadgroup('GROUP', group, consumer, 'COUNT', readCount, 'STREAMS', stream, id)
        : await redis.xreadgroup(
            'GROUP',
            group,
            consumer,
            'COUNT',
            readCount,
            'BLOCK',
            blockMs,
            'STREAMS',
            stream,
            id,
          )
    ) as [string, RawEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** XAUTOCLAIM: entries idle at any consumer past claimIdleMs become ours. */
  private async claim(cursor: string): Promise<[string, RawEntry[]]> {
    const { redis, stream, group, consumer, claimIdleMs, readCount } = this.options;
    const reply = (await redis.xautoclaim(
      stream,
      group,
      consumer,
      claimIdleMs,
      cursor,
      'COUNT',
      readCount,
    )) as [string, RawEntry[], string[]?];
    const deleted = reply[2] ?? [];
    if (deleted.length > 0) {
      // Redis drops these from the pending list itself: nothing left to read, acknowledge or store.
      this.log.warn(
        { entries: deleted },
        'pending entries deleted from the stream before they were committed',
      );
    }
    return [reply[0], reply[1]];
  }

  /** Times each entry was delivered (XPENDING), for entries read again or claimed. */
  private async withDeliveries(entries: RawEntry[]): Promise<Entry[]> {
    if (entries.length === 0) return [];
    const { redis, stream, group, consumer } = this.options;
    const first = entries[0]![0];
    const last = entries[entries.length - 1]![0];
    const pending = (await redis.xpending(stream, group, first, last, entries.length, consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    const counts = new Map(pending.map((p) => [p[0], Number(p[3])]));
    return entries.map(([id, fields]) => ({ id, fields, deliveries: counts.get(id) ?? 1 }));
  }

  private judge(entries: Entry[]): StreamEntryRecord[] {
    const latest = latestSaleDate();
    const max = this.options.maxDeliveries;
    return entries.map((entry) => {
      const base = { entryId: entry.id, deliveries: entry.deliveries };
      if (entry.deliveries > max) {
        const raw = entryRaw(entry.id, entryFields(entry.fields));
        const message = `entry ${entry.id} was delivered ${entry.deliveries} times without being committed (SALES_STREAM_MAX_DELIVERIES=${max}): dead-lettered unread`;
        return { ...base, outcome: 'dead-letter', raw, reasons: [{ path: '', message }] };
      }
      const verdict = judgeStreamEntry(entry.id, entry.fields, latest);
      if (verdict.kind === 'sale')
        return { ...base, outcome: 'stored', sale: verdict.sale, raw: verdict.raw };
      if (verdict.kind === 'empty') return { ...base, outcome: 'empty', raw: verdict.raw };
      return {
        ...base,
        outcome: 'rejected',
        raw: verdict.raw,
        reasons: verdict.reasons.map((r) => ({ ...r, message: `entry ${entry.id}: ${r.message}` })),
      };
    });
  }

  /**
   * Commits the group, then acknowledges it. A group that fails for a reason other than the lock
   * or the database is committed entry by entry, so one entry that cannot commit stays pending
   * alone (and is dead-lettered after maxDeliveries) while the others go through.
   */
  private async commitAndAck(entries: Entry[]): Promise<void> {
    const records = this.judge(entries);
    try {
      await this.commit(records);
    } catch (error) {
      if (records.length === 1 || error instanceof LockLostError || error instanceof DatabaseFatalError)
        throw error;
      this.log.warn(
        { err: (error as Error).message, entries: records.length },
        'stream group failed; committing its entries one by one',
      );
      let failed: unknown = null;
      for (const record of records) {
        try {
          await this.commit([record]);
        } catch (one) {
          if (one instanceof LockLostError || one instanceof DatabaseFatalError) throw one;
          failed = one;
        }
      }
      if (failed) throw failed;
    }
  }

  private async commit(records: StreamEntryRecord[]): Promise<void> {
    const { writer, stream, redis, group } = this.options;
    const started = performance.now();
    const result = await writer.transaction((tx) =>
      commitStreamEntries(tx, { stream, source: this.source, entries: records }),
    );
    await redis.xack(stream, group, ...records.map((r) => r.entryId));
    this.report(result, records.length, performance.now() - started);
  }

  private report(result: StreamGroupResult, entries: number, ms: number): void {
    const counter = this.options.metrics?.streamEntries;
    if (counter) {
      if (result.stored) counter.inc({ outcome: 'stored' }, result.stored);
      if (result.rejected) counter.inc({ outcome: 'rejected' }, result.rejected);
      if (result.deadLettered) counter.inc({ outcome: 'dead-letter' }, result.deadLettered);
      if (result.duplicates) counter.inc({ outcome: 'duplicate' }, result.duplicates);
      const empty = entries - result.stored - result.rejected - result.deadLettered - result.duplicates;
      if (empty > 0) counter.inc({ outcome: 'empty' }, empty);
    }
    if (result.deadLettered > 0) {
      this.log.error(
        { batchId: result.batchId, entries: result.deadLettered },
        'stream entries dead-lettered: quarantined in rejects, acknowledged',
      );
    }
    const rejected = result.rejected + result.deadLettered;
    this.options.onCommitted?.({
      batches: result.batchId ? 1 : 0,
      rows: result.stored,
      rejected,
      ms,
      sources: result.batchId ? [{ source: this.source, rows: result.stored, rejected }] : [],
    });
    this.log.debug({ entries, ...result, ms: Math.round(ms) }, 'stream group committed');
  }

  private async maybeTrim(): Promise<void> {
    const every = this.options.trimIntervalMs ?? 1_000;
    if (!this.options.trim || Date.now() - this.lastTrim < every) return;
    this.lastTrim = Date.now();
    const removed = await trimCommittedEntries(this.options.redis, this.options.stream);
    if (removed > 0) this.log.debug({ removed }, 'stream trimmed to what every group acknowledged');
  }
}
