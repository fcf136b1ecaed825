import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  commitStreamEntries,
  DatabaseWriter,
  listRejects,
  salesTotals,
  streamEntryCounts,
  WriterLock,
} from '@datasync/db';
import { ensureStreamGroup, Metrics, readStreamLag, trimCommittedEntries } from '@datasync/runtime';
import { latestSaleDate } from '@datasync/schemas';
import { isolatedRedisUrl, sumOfTotals, tempDir, testSale, waitFor } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StreamConsumer, type StreamConsumerOptions } from '../src/stream/stream-consumer.js';
import { judgeStreamEntry } from '../src/stream/stream-entry.js';

/**
 * The stream consumer in-process against the suite's real redis-server and a DuckDB file in a temp
 * folder: what it stores, quarantines, dead-letters, acknowledges, trims and reports as lag.
 * Killing real processes mid-stream is tests/e2e stream-e2e.test.ts.
 */
const logger = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const STREAM = 'sales-stream';
const GROUP = 'datasync';

async function setup() {
  const url = await isolatedRedisUrl(inject('redisUrl'));
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const dir = tempDir('datasync-stream-');
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger,
    idleReleaseMs: 0,
  });
  const consumers: StreamConsumer[] = [];
  cleanups.push(
    dir.cleanup,
    () => redis.disconnect(),
    () => writer.close(),
  );
  cleanups.push(() => Promise.all(consumers.map((c) => c.stop())));
  const consumer = (name: string, options: Partial<StreamConsumerOptions> = {}) => {
    const connection = redis.duplicate();
    cleanups.push(() => connection.disconnect());
    const c = new StreamConsumer({
      redis: connection,
      writer,
      logger,
      stream: STREAM,
      group: GROUP,
      consumer: name,
      readCount: 50,
      blockMs: 100,
      maxDeliveries: 5,
      claimIdleMs: 60_000,
      trim: false,
      retryMs: 50,
      ...options,
    });
    consumers.push(c);
    return c;
  };
  const addJson = (record: unknown, id = '*') => redis.xadd(STREAM, id, 'sale', JSON.stringify(record));
  const addText = (text: string) => redis.xadd(STREAM, '*', 'sale', text);
  const addColumns = (record: Record<string, string | number>) =>
    redis.xadd(STREAM, '*', ...Object.entries(record).flatMap(([k, v]) => [k, String(v)]));
  const lag = () => readStreamLag(redis, STREAM, GROUP);
  const committed = () => waitFor(async () => (await lag()).entries === 0, { what: 'lag 0' });
  const read = <T>(fn: Parameters<DatabaseWriter['read']>[0]) => writer.read(fn) as Promise<T>;
  const totals = () => writer.read(salesTotals);
  const counts = () => writer.read((conn) => streamEntryCounts(conn, STREAM));
  const rejects = () =>
    writer.read((conn) => listRejects(conn, { source: `stream:${STREAM}`, limit: 100, offset: 0 }));
  /** Delivers entries to a consumer that then dies: read, never acknowledged. */
  const deliverTo = async (name: string, count: number, id = '>') => {
    await ensureStreamGroup(redis, STREAM, GROUP);
    const reply = (await redis.xreadgroup('GROUP', GROUP, name, 'COUNT', count, 'STREAMS', STREAM, id)) as
      | [string, [string, string[]][]][]
      | null;
    return reply?.[0]?.[1] ?? [];
  };
  return {
    redis,
    writer,
    consumer,
    addJson,
    addText,
    addColumns,
    lag,
    committed,
    read,
    totals,
    counts,
    rejects,
    deliverTo,
  };
}

describe('the stream consumer', () => {
  it('stores good entries (a JSON field or one field per column) and quarantines poison ones with their entry id and reasons', async () => {
    const t = await setup();
    const good = Array.from({ length: 120 }, (_, i) => testSale(i));
    const ids: string[] = [];
    for (const [i, sale] of good.entries()) ids.push((await (i % 2 ? t.addJson(sale) : t.addColumns(sale)))!);
    const badJson = (await t.addText('{"date": "2026-01-15", '))!;
    const badField = (await t.addJson({ ...testSale(1), quantity: 0 }))!;
    const notAnObject = (await t.addText('[1, 2]'))!;
    const noFields = (await t.redis.xadd(STREAM, '*', 'note', 'hello'))!;
    await t.addJson(testSale(500));
    const c = t.consumer('w1').start();
    await t.committed();
    await c.stop();

    const totals = await t.totals();
    expect(totals.rows).toBe(121);
    expect(totals.totalAmount).toBe(sumOfTotals([...good, testSale(500)]));
    const { items, total } = await t.rejects();
    expect(total).toBe(4);
    const byEntry = new Map(items.map((r) => [JSON.parse(r.raw).entry as string, r]));
    expect(byEntry.get(badJson)!.reasons[0]).toMatchObject({
      path: 'sale',
      message: expect.stringMatching(/^entry .* sale is not valid JSON/),
    });
    expect(byEntry.get(badField)!.reasons).toEqual([
      expect.objectContaining({
        path: 'quantity',
        message: `entry ${badField}: quantity must be between 1 and 1000000`,
      }),
    ]);
    expect(byEntry.get(notAnObject)!.reasons[0]!.message).toMatch(/record must be a JSON object/);
    expect(byEntry.get(noFields)!.reasons.map((r) => r.path)).toContain('date');
    expect(JSON.parse(byEntry.get(badJson)!.raw)).toEqual({
      entry: badJson,
      fields: { sale: '{"date": "2026-01-15", ' },
    });
    expect(await t.counts()).toMatchObject({ stored: 121, rejected: 4, distinct: 125, total: 125 });
    const pending = (await t.redis.xpending(STREAM, GROUP)) as [number];
    expect(pending[0]).toBe(0);
  });

  it('a lost XACK (committed, not acknowledged): the entries are read again on restart and stored once', async () => {
    const t = await setup();
    const records = Array.from({ length: 40 }, (_, i) => testSale(i));
    for (const r of records) await t.addJson(r);
    // A worker named w1 reads 30 entries and commits them, then dies before its XACK.
    const delivered = await t.deliverTo('w1', 30);
    const latest = latestSaleDate();
    await t.writer.transaction((tx) =>
      commitStreamEntries(tx, {
        stream: STREAM,
        source: `stream:${STREAM}`,
        entries: delivered.map(([id, fields]) => {
          const v = judgeStreamEntry(id, fields, latest);
          return {
            entryId: id,
            deliveries: 1,
            outcome: 'stored',
            sale: v.kind === 'sale' ? v.sale : undefined,
            raw: v.raw,
          };
        }),
      }),
    );
    expect((await t.lag()).pending).toBe(30);

    const metrics = new Metrics('test');
    t.consumer('w1', { metrics }).start(); // restarted under the same name: its own pending entries first
    await t.committed();
    const totals = await t.totals();
    expect(totals.rows).toBe(40);
    expect(totals.totalAmount).toBe(sumOfTotals(records));
    expect(await t.counts()).toMatchObject({ stored: 40, distinct: 40, total: 40 });
    const counted = (await metrics.streamEntries.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(Object.fromEntries(counted)).toEqual({ duplicate: 30, stored: 10 });
  });

  it('claims entries pending at a dead consumer, and dead-letters one delivered more than MAX_DELIVERIES times', async () => {
    const t = await setup();
    const records = Array.from({ length: 5 }, (_, i) => testSale(i));
    const ids = [];
    for (const r of records) ids.push((await t.addJson(r))!);
    // A consumer that died three times on the first entry: delivered once with the others, twice more alone.
    expect(await t.deliverTo('crashing', 5)).toHaveLength(5);
    await t.deliverTo('crashing', 1, '0');
    await t.deliverTo('crashing', 1, '0');
    await new Promise((r) => setTimeout(r, 150));

    t.consumer('w2', { claimIdleMs: 100, maxDeliveries: 3 }).start();
    await t.committed();
    // Claimed: the first entry's fourth delivery (dead-lettered), the others' second.
    expect((await t.totals()).rows).toBe(4);
    const { items } = await t.rejects();
    expect(items).toHaveLength(1);
    expect(JSON.parse(items[0]!.raw)).toEqual({
      entry: ids[0],
      fields: { sale: JSON.stringify(records[0]) },
    });
    expect(items[0]!.reasons[0]!.message).toBe(
      `entry ${ids[0]} was delivered 4 times without being committed (SALES_STREAM_MAX_DELIVERIES=3): dead-lettered unread`,
    );
    const outcomes = await t.read<Record<string, unknown>[]>(async (conn) =>
      (
        await conn.runAndReadAll(
          'SELECT entry_id, outcome, deliveries FROM stream_entries ORDER BY entry_ms, entry_id',
        )
      ).getRowObjectsJson(),
    );
    expect(outcomes).toEqual(
      ids.map((id, i) => ({
        entry_id: id,
        outcome: i === 0 ? 'dead-letter' : 'stored',
        deliveries: i === 0 ? 4 : 2,
      })),
    );
    expect(((await t.redis.xpending(STREAM, GROUP)) as [number])[0]).toBe(0);
  });

  it('reports the lag in entries and seconds (pending plus undelivered, age of the oldest), also as metrics', async () => {
    const t = await setup();
    const now = Date.now();
    expect(await t.lag()).toMatchObject({ entries: 0, seconds: 0, exists: false });
    for (let i = 0; i < 10; i++) await t.addJson(testSale(i), `${now - 60_000 + i}-0`);
    // No group yet: the whole stream lags, from its first entry.
    const before = await readStreamLag(t.redis, STREAM, GROUP, now);
    expect(before).toMatchObject({ entries: 10, pending: 0, oldestId: `${now - 60_000}-0`, seconds: 60 });
    await t.redis.xgroup('CREATE', STREAM, GROUP, '0');
    await t.deliverTo('gone', 3);
    const metrics = new Metrics('test');
    metrics.trackStreamLag(STREAM, () => readStreamLag(t.redis, STREAM, GROUP, now));
    expect(await readStreamLag(t.redis, STREAM, GROUP, now)).toMatchObject({
      entries: 10,
      pending: 3,
      seconds: 60,
      consumers: 1,
    });
    const gauge = async (name: string) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels.stream, v.value]);
    expect(await gauge('datasync_stream_lag_entries')).toEqual([[STREAM, 10]]);
    expect(await gauge('datasync_stream_lag_seconds')).toEqual([[STREAM, 60]]);

    // The 7 undelivered are committed; the oldest uncommitted is still the first (pending at "gone").
    const c = t.consumer('w1').start();
    await waitFor(async () => (await t.lag()).entries === 3, { what: 'lag 3' });
    expect(await readStreamLag(t.redis, STREAM, GROUP, now)).toMatchObject({
      entries: 3,
      pending: 3,
      seconds: 60,
    });
    await c.stop();
    t.consumer('w1', { claimIdleMs: 1 }).start();
    await t.committed();
    expect(await gauge('datasync_stream_lag_entries')).toEqual([[STREAM, 0]]);
    expect(await gauge('datasync_stream_lag_seconds')).toEqual([[STREAM, 0]]);
    expect((await t.totals()).rows).toBe(10);
  });

  it('trimming never removes an entry that is pending or undelivered in any group', async () => {
    const t = await setup();
    const added: string[] = [];
    const add = async (n: number) => {
      for (let i = 0; i < n; i++) added.push((await t.addJson(testSale(added.length)))!);
    };
    /** Every entry added is committed (in stream_entries) or still in the stream. */
    const nothingLost = async () => {
      const inStream = new Set((await t.redis.xrange(STREAM, '-', '+')).map(([id]) => id));
      const stored = await t.read<string[]>(async (conn) =>
        (await conn.runAndReadAll('SELECT entry_id FROM stream_entries'))
          .getRowObjects()
          .map((r) => String(r.entry_id)),
      );
      const committed = new Set(stored);
      return added.filter((id) => !inStream.has(id) && !committed.has(id));
    };
    await add(20);
    await t.redis.xgroup('CREATE', STREAM, GROUP, '0');
    await t.deliverTo('dead', 5); // pending at a dead consumer: not committed
    const c = t.consumer('w1', { trim: true, trimIntervalMs: 0 }).start();
    await waitFor(async () => (await t.lag()).entries === 5, { what: 'the 15 others committed' });
    await c.stop();
    expect(await trimCommittedEntries(t.redis, STREAM)).toBe(0); // the oldest pending is the first
    expect(await t.redis.xlen(STREAM)).toBe(20);

    // A second group (another reader of the stream) that has acknowledged only the first 10.
    await t.redis.xgroup('CREATE', STREAM, 'audit', '0');
    const audit = (
      (await t.redis.xreadgroup('GROUP', 'audit', 'a', 'COUNT', 10, 'STREAMS', STREAM, '>')) as [
        string,
        [string][],
      ][]
    )[0]![1];
    await t.redis.xack(STREAM, 'audit', ...audit.map(([id]) => id));

    const w = t.consumer('w1', { trim: true, trimIntervalMs: 0, claimIdleMs: 1 }).start();
    await t.committed();
    await w.stop();
    // It trimmed after its commits: up to the audit group's last acknowledged entry, not further.
    expect((await t.redis.xrange(STREAM, '-', '+', 'COUNT', 1))[0]![0]).toBe(added[9]);
    expect(await t.redis.xlen(STREAM)).toBe(11);
    await add(5); // never delivered to anyone
    expect(await trimCommittedEntries(t.redis, STREAM)).toBe(0);
    expect(await nothingLost()).toEqual([]);
    await t.redis.xgroup('DESTROY', STREAM, 'audit');
    expect(await trimCommittedEntries(t.redis, STREAM)).toBe(10); // to datasync's last delivered one
    expect(await t.redis.xlen(STREAM)).toBe(6);
    expect(await nothingLost()).toEqual([]);
    expect((await t.lag()).entries).toBe(5);
  });
});
