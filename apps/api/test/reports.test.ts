import { EVENTS_CHANNEL, QUEUE_PREFIX } from '@datasync/runtime';
import { QUEUES, REPORT_JOBS } from '@datasync/schemas';
import { waitFor } from '@datasync/testkit';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, INGEST_KEY, makeApi, OPERATOR_KEY } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
let connection: Redis;
let worker: Worker | null = null;
const seen: Job[] = [];

beforeAll(async () => {
  api = await makeApi();
  connection = new Redis(api.redisUrl, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await worker?.close();
  connection.disconnect();
  await api.close();
});

const summary = {
  groupBy: 'region',
  from: '2026-01-01',
  to: null,
  rows: [{ key: 'EU', count: 2, quantity: 3, revenue: '12.30' }],
  totals: { count: 2, quantity: 3, revenue: '12.30' },
  truncated: false,
};
const page = { total: 0, limit: 5, offset: 10, items: [] };
const figures = { revenue: '12.30', orders: 2, units: 3, averageOrder: '6.15' };
const analytics = {
  from: '2026-01-01',
  to: '2026-01-31',
  bucket: 'week',
  current: figures,
  previous: { ...figures, from: '2025-12-01', to: '2025-12-31' },
  series: [{ key: '2025-12-29', revenue: '12.30', orders: 2, units: 3 }],
  byRegion: [{ key: 'EU', revenue: '12.30', orders: 2, units: 3 }],
  topProducts: [{ key: 'Pen', revenue: '12.30', orders: 2, units: 3 }],
  freshness: [{ source: 'shop', lastCommit: '2026-01-31T10:00:00.000Z' }],
};

/** A real BullMQ worker on the reports queue standing in for the sync-worker's reports processor. */
function startWorker() {
  worker = new Worker(
    QUEUES.reports,
    async (job) => {
      seen.push(job);
      if (job.name === REPORT_JOBS.salesAnalytics) return analytics;
      return job.name === REPORT_JOBS.salesSummary ? summary : page;
    },
    { connection, prefix: QUEUE_PREFIX },
  );
  return worker.waitUntilReady();
}

const get = (url: string, key = OPERATOR_KEY) => api.app.inject({ method: 'GET', url, headers: auth(key) });

describe('GET /v1/sales/summary and GET /v1/rejects', () => {
  it('need the operator scope', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/v1/sales/summary' })).statusCode).toBe(401);
    expect((await get('/v1/rejects', INGEST_KEY)).statusCode).toBe(403);
  });

  it('answer 503 with Retry-After when no worker listens, instead of hanging', async () => {
    const res = await get('/v1/sales/summary');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json().detail).toMatch(/no worker is listening on the reports queue/);
  });

  it('hand the validated query to a worker and return its answer', async () => {
    await startWorker();
    const res = await get('/v1/sales/summary?groupBy=region&from=2026-01-01');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(summary);
    expect(seen.at(-1)).toMatchObject({
      name: REPORT_JOBS.salesSummary,
      data: { groupBy: 'region', from: '2026-01-01' },
    });

    const rejects = await get('/v1/rejects?importId=imp-1&source=csv&limit=5&offset=10');
    expect(rejects.statusCode).toBe(200);
    expect(rejects.json()).toEqual(page);
    expect(seen.at(-1)).toMatchObject({
      name: REPORT_JOBS.rejects,
      data: { importId: 'imp-1', source: 'csv', limit: 5, offset: 10 },
    });
    expect((await get('/v1/sales/summary')).json()).toEqual(summary);
    expect(seen.at(-1)?.data).toEqual({ groupBy: 'day' });
  });

  it('reject a bad query with a problem naming the field', async () => {
    const res = await get('/v1/sales/summary?groupBy=week');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].path).toBe('groupBy');
    const reversed = await get('/v1/sales/summary?from=2026-02-01&to=2026-01-01');
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json().errors[0]).toMatchObject({ path: 'from', message: 'from must not be after to' });
    expect((await get('/v1/rejects?limit=5000')).statusCode).toBe(400);
  });

  it('GET /v1/sales/analytics: validated (from, to, bucket, top named), then answered by a worker', async () => {
    const bad = await get('/v1/sales/analytics?from=2026-02-01&to=2026-01-01&bucket=year&top=0');
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .errors.map((e: { path: string }) => e.path)
        .sort(),
    ).toEqual(['bucket', 'top']);
    const reversed = await get('/v1/sales/analytics?from=2026-02-01&to=2026-01-01');
    expect(reversed.json().errors[0]).toMatchObject({ path: 'from', message: 'from must not be after to' });
    expect((await get('/v1/sales/analytics?from=2026-01-01')).json().errors[0].path).toBe('to');
    expect((await get('/v1/sales/analytics?from=2026-01-01&to=2026-01-31', INGEST_KEY)).statusCode).toBe(403);

    const answered = await get('/v1/sales/analytics?from=2026-01-01&to=2026-01-31&bucket=week&region=EU');
    expect(answered.statusCode).toBe(200);
    expect(answered.json()).toEqual(analytics);
    expect(seen.at(-1)).toMatchObject({
      name: REPORT_JOBS.salesAnalytics,
      data: { from: '2026-01-01', to: '2026-01-31', bucket: 'week', region: 'EU', top: 10 },
    });
  });

  it('analytics: dashboards with the same filters share one worker query until the next commit', async () => {
    const stop = await api.deps.live.listen(() => undefined); // a dashboard is open
    const url = '/v1/sales/analytics?from=2026-01-01&to=2026-01-31&region=Shared';
    const asked = () => seen.filter((j) => j.data.region === 'Shared').length;
    const answers = await Promise.all(Array.from({ length: 50 }, () => get(url)));
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    expect(asked()).toBe(1);
    const publisher = new Redis(api.redisUrl);
    const version = api.deps.live.version;
    await publisher.publish(EVENTS_CHANNEL, JSON.stringify({ type: 'commit', sources: [] }));
    await waitFor(() => api.deps.live.version > version, { what: 'the commit event' });
    publisher.disconnect();
    expect((await get(url)).statusCode).toBe(200);
    expect(asked()).toBe(2);
    stop();
  });

  it('are documented in the OpenAPI document', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/sales/summary', '/v1/sales/analytics', '/v1/rejects']),
    );
  });
});

describe('a reject stored by any writer lists', () => {
  it('reasons without an index (user import) or with a line (a CSV file check) get the row number', async () => {
    const { withReasonIndexes } = await import('../src/routes/reports.js');
    const entry = {
      source: 's',
      batchId: 'b',
      kind: 'csv',
      raw: '{}',
      rejectedAt: '2026-01-01T00:00:00.000Z',
    };
    const reasons = [
      { line: 7, path: 'region', message: 'region must be valid UTF-8 text' },
      { path: 'email', message: 'email must be a valid address' },
      { index: 3, path: 'quantity', message: 'quantity is required' },
    ];
    expect(withReasonIndexes({ ...entry, rowNumber: 9, reasons } as never).reasons).toEqual([
      { index: 7, path: 'region', message: 'region must be valid UTF-8 text' },
      { index: 9, path: 'email', message: 'email must be a valid address' },
      { index: 3, path: 'quantity', message: 'quantity is required' },
    ]);
  });
});
