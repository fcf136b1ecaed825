import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseWriter, listRejects, salesSummary, WriterLock, watermarkOf } from '@datasync/db';
import { QUEUE_PREFIX } from '@datasync/runtime';
import { latestSaleDate, QUEUES, type UpstreamSyncResult } from '@datasync/schemas';
import { isolatedRedisUrl, tempDir } from '@datasync/testkit';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createSalesSyncProcessor } from '../src/sales-sync/sales-sync-processor.js';
import { UpstreamError } from '../src/sales-sync/upstream-client.js';
import { syncFromUpstream, syncWindow } from '../src/sales-sync/upstream-sync.js';

const API_KEY = 'upstream-secret-key-42';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Handler = (req: IncomingMessage, res: ServerResponse, n: number, url: URL) => void;

/** A real HTTP server on loopback playing the upstream sales API. */
async function fakeUpstream(handler: Handler) {
  const requests: { url: URL; authorization: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ url, authorization: req.headers.authorization });
    handler(req, res, requests.length, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(
    () => new Promise((resolve) => server.close(resolve)),
    () => server.closeAllConnections(),
  );
  return { url: `${base}/sales`, base, requests };
}

const json = (res: ServerResponse, body: unknown, headers: Record<string, string> = {}, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const today = new Date().toISOString().slice(0, 10);
const sale = (i: number, overrides: Record<string, unknown> = {}) => ({
  date: today,
  user_id: i,
  product_name: `Product ${i}`,
  quantity: 2,
  unit_price: 10.5,
  total_amount: 21,
  region: 'EU',
  ...overrides,
});

function setup() {
  const dir = tempDir('datasync-upstream-');
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger: pino({ level: 'silent' }),
    idleReleaseMs: 0,
  });
  cleanups.push(
    dir.cleanup,
    () => redis.disconnect(),
    () => writer.close(),
  );
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const config = {
    SALES_API_URL: undefined as string | undefined,
    SALES_API_KEY: API_KEY,
    SALES_API_TIMEOUT_MS: 300,
    SALES_API_MAX_RETRIES: 5,
  };
  const sync = (url: string, days = 1, runId: string = randomUUID()) =>
    syncFromUpstream(
      {
        writer,
        logger,
        config: { ...config, SALES_API_URL: url },
        client: { baseDelayMs: 5, maxDelayMs: 50 },
      },
      { runId, days },
    );
  const count = async () =>
    (await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }))).totals.count;
  return { dir, writer, logs, sync, count, config };
}

describe('the upstream pull', () => {
  it('follows every page (envelope links, cursors, Link headers), quarantines malformed records and commits the window with its watermark', async () => {
    const up = await fakeUpstream((_req, res, _n, url) => {
      if (url.searchParams.get('page') === '4') return json(res, []);
      if (url.searchParams.get('page') === '3') {
        return json(res, [sale(4)], { link: `<${url.pathname}?page=4>; rel="next"` });
      }
      if (url.searchParams.get('cursor') === 'c2')
        return json(res, [sale(3)], { link: '</sales?page=3>; rel="next"' });
      if (url.searchParams.get('page') === '2') return json(res, { records: [sale(2)], next: 'c2' });
      return json(res, { data: [sale(1), sale(5, { quantity: 0 }), 'junk'], next: '/sales?page=2' });
    });
    const t = setup();
    const result = await t.sync(up.url, 3);
    const window = {
      from: new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10),
      to: latestSaleDate(),
    };
    expect(result).toMatchObject({
      source: 'api',
      sourceName: `upstream:${new URL(up.url).host}`,
      pages: 5,
      received: 6,
      accepted: 4,
      rejected: 2,
      window,
      watermark: window.to,
      warnings: [],
    });
    expect(up.requests[0]!.url.searchParams.get('from')).toBe(window.from);
    expect(up.requests[0]!.url.searchParams.get('to')).toBe(window.to);
    // Found by its cursor, not its place: on a loaded machine a page can time out (300 ms) and be asked again.
    const byCursor = up.requests.find((r) => r.url.searchParams.get('cursor') === 'c2');
    expect(byCursor!.url.searchParams.get('from')).toBe(window.from); // a cursor keeps the window
    expect(up.requests.every((r) => r.authorization === `Bearer ${API_KEY}`)).toBe(true);
    expect(await t.count()).toBe(4);
    expect(await t.writer.read((conn) => watermarkOf(conn, result.sourceName))).toBe(window.to);
    const rejects = await t.writer.read((conn) =>
      listRejects(conn, { batchId: result.runId, limit: 10, offset: 0 }),
    );
    expect(rejects.items.map((r) => [r.rowNumber, r.reasons.map((x) => x.message)])).toEqual([
      [1, ['quantity must be between 1 and 1000000']],
      [2, ['record must be a JSON object']],
    ]);
    expect(JSON.stringify(t.logs)).not.toContain(API_KEY);
  });

  it('retries a timeout, a 500, a 429 (waiting as its Retry-After asks) and a truncated body, then succeeds', async () => {
    const up = await fakeUpstream((_req, res, n) => {
      if (n === 1) return; // never answers: the request times out
      if (n === 2) return json(res, { error: 'boom' }, {}, 500);
      if (n === 3) return json(res, { error: 'slow down' }, { 'retry-after': '1' }, 429);
      if (n === 4) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('[{"date": "2026-01-1');
      }
      return json(res, [sale(1), sale(2)]);
    });
    const t = setup();
    const result = await t.sync(up.url);
    expect(result).toMatchObject({ pages: 1, received: 2, accepted: 2 });
    expect(up.requests).toHaveLength(5);
    const retries = t.logs.filter((l) => /retrying/.test(String(l.msg)));
    expect(retries.map((l) => l.status ?? null)).toEqual([null, 500, 429, null]);
    expect(retries[0]!.msg).toMatch(/no answer .* within 300 ms/);
    expect(retries[2]!.delayMs).toBe(1000);
    expect(retries[3]!.msg).toMatch(/not JSON \(truncated\?\)/);
  });

  it('a pull that fails leaves the watermark and the rows where they were', async () => {
    let failing = false;
    const up = await fakeUpstream((_req, res) =>
      failing ? json(res, { error: 'down' }, {}, 503) : json(res, [sale(1), sale(2)]),
    );
    const t = setup();
    const first = await t.sync(up.url);
    failing = true;
    await expect(t.sync(up.url, 5)).rejects.toThrow(/answered 503.*after 6 attempts/);
    expect(await t.count()).toBe(2);
    expect(await t.writer.read((conn) => watermarkOf(conn, first.sourceName))).toBe(first.watermark);
  });

  it('a re-run over the same window replaces the rows, never duplicates; an empty pull warns', async () => {
    let records: unknown[] = [sale(1), sale(2), sale(3)];
    const up = await fakeUpstream((_req, res) => json(res, records));
    const t = setup();
    await t.sync(up.url);
    const rerun = await t.sync(up.url);
    expect(rerun).toMatchObject({ accepted: 3, replaced: 3, warnings: [] });
    expect(await t.count()).toBe(3);
    records = [];
    const empty = await t.sync(up.url);
    expect(empty).toMatchObject({ received: 0, replaced: 3, warnings: ['no sales returned for the window'] });
    expect(t.logs.some((l) => l.msg === 'no sales returned for the window')).toBe(true);
  });

  it('quarantines records dated outside the window: storing them could duplicate them later', async () => {
    const up = await fakeUpstream((_req, res) => json(res, [sale(1), sale(2, { date: '2020-01-01' })]));
    const t = setup();
    const result = await t.sync(up.url);
    expect(result).toMatchObject({ accepted: 1, rejected: 1 });
    const rejects = await t.writer.read((conn) =>
      listRejects(conn, { batchId: result.runId, limit: 10, offset: 0 }),
    );
    expect(rejects.items[0]!.reasons[0]!.message).toMatch(/^date is outside the requested window /);
  });

  it('refuses to send the key to another host named by a next link, and fails a 401 at once', async () => {
    const up = await fakeUpstream((_req, res, _n, url) =>
      url.pathname === '/private'
        ? json(res, { error: 'no' }, {}, 401)
        : json(res, { data: [sale(1)], next: 'http://198.51.100.7/steal' }),
    );
    const t = setup();
    await expect(t.sync(up.url)).rejects.toThrow(/points to another host .*not followed/);
    const unauthorized = t.sync(`${up.base}/private`);
    await expect(unauthorized).rejects.toThrow(UpstreamError);
    await expect(unauthorized).rejects.toMatchObject({ permanent: true, status: 401 });
    expect(up.requests.filter((r) => r.url.pathname === '/private')).toHaveLength(1);
  });

  it('sends the key only to the origin of SALES_API_URL, not to another URL a job names', async () => {
    const up = await fakeUpstream((_req, res) => json(res, [sale(1)]));
    const t = setup();
    await syncFromUpstream(
      {
        writer: t.writer,
        logger: pino({ level: 'silent' }),
        config: { ...t.config, SALES_API_URL: 'http://127.0.0.2:9/sales' },
      },
      { runId: randomUUID(), days: 1, url: up.url },
    );
    expect(up.requests.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('the window starts at the watermark, or days before today if that is earlier, and ends tomorrow', () => {
    const now = new Date('2026-03-10T02:00:00Z');
    expect(syncWindow(null, 1, now)).toEqual({ from: '2026-03-09', to: '2026-03-11' });
    expect(syncWindow('2026-03-01', 1, now)).toEqual({ from: '2026-03-01', to: '2026-03-11' });
    expect(syncWindow('2026-03-11', 7, now)).toEqual({ from: '2026-03-03', to: '2026-03-11' });
  });
});

describe('the sales-sync job with source api', () => {
  it('runs on the queue; a redelivered run answers from its ledger and the upstream is not asked again', async () => {
    const up = await fakeUpstream((_req, res) => json(res, [sale(1)]));
    const t = setup();
    const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const processor = createSalesSyncProcessor({
      writer: t.writer,
      logger: pino({ level: 'silent' }),
      config: { ...t.config, SALES_API_URL: up.url, IMPORT_DIR: join(t.dir.path, 'imports') },
    });
    const worker = new Worker(QUEUES.salesSync, processor, { connection, prefix: QUEUE_PREFIX });
    const queue = new Queue(QUEUES.salesSync, { connection, prefix: QUEUE_PREFIX });
    const eventsConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const events = new QueueEvents(QUEUES.salesSync, { connection: eventsConnection, prefix: QUEUE_PREFIX });
    cleanups.push(
      () => connection.disconnect(),
      () => eventsConnection.disconnect(),
      () => queue.close(),
      () => events.close(),
      () => worker.close(),
    );
    await events.waitUntilReady();
    const job = await queue.add('sales-sync', { source: 'api', days: 2 }, { jobId: 'run-a' });
    const result = (await job.waitUntilFinished(events, 30_000)) as UpstreamSyncResult;
    expect(result).toMatchObject({ runId: 'run-a', accepted: 1, pages: 1 });
    await job.remove();
    const again = await queue.add('sales-sync', { source: 'api', days: 2 }, { jobId: 'run-a' });
    expect(await again.waitUntilFinished(events, 30_000)).toEqual(result);
    expect(up.requests).toHaveLength(1);
    expect(await t.count()).toBe(1);
  });
});
