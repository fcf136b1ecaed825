import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, createApiDeps, loadApiKeys } from '@datasync/api';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import { startQueueWorker, waitForRedis } from '@datasync/runtime';
import { type CsvImportResult, parseEnvConfig, QUEUES } from '@datasync/schemas';
import { createReportsProcessor, createSalesSyncProcessor } from '@datasync/sync-worker';
import { isolatedRedisUrl, tempDir, waitFor } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const OPERATOR_KEY = 'operator-secret-0123456789';
const auth = { authorization: `Bearer ${OPERATOR_KEY}` };
let stack: Awaited<ReturnType<typeof makeStack>>;

/** The api in-process, and the sales-sync and reports workers on one DuckDB writer, as a sync-worker runs them. */
async function makeStack() {
  const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
  const dir = tempDir('datasync-reports-');
  const config = parseEnvConfig({
    REDIS_URL: redisUrl,
    DATABASE_PATH: join(dir.path, 'data', 'db.duckdb'),
    IMPORT_DIR: join(dir.path, 'imports'),
    BACKUP_DIR: join(dir.path, 'backups'),
    API_KEYS: `ops:operator:${OPERATOR_KEY}`,
    LOG_LEVEL: 'silent',
    JOB_ATTEMPTS: '1',
  });
  const api = createApiDeps(config, loadApiKeys(config).store);
  await waitForRedis(api.deps.redis);
  const app = await buildApp(api.deps);
  const logger = pino({ level: 'silent' });
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const lockRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: config.DATABASE_PATH,
    lock: new WriterLock({ redis: lockRedis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger,
    idleReleaseMs: 0,
  });
  const deps = { connection, config, logger };
  const workers = [
    startQueueWorker(QUEUES.salesSync, createSalesSyncProcessor({ writer, config, logger }), deps),
    startQueueWorker(QUEUES.reports, createReportsProcessor({ writer }), { ...deps, concurrency: 4 }),
  ];
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const close = async () => {
    await Promise.all(workers.map((w) => w.close()));
    await writer.close();
    await app.close();
    await api.close();
    connection.disconnect();
    lockRedis.disconnect();
    dir.cleanup();
  };
  return { app, api, config, close };
}

beforeAll(async () => {
  stack = await makeStack();
});
afterAll(async () => stack?.close());

const get = (url: string) => stack.app.inject({ method: 'GET', url, headers: auth });

async function importCsv(csv: string): Promise<CsvImportResult> {
  const accepted = await stack.app.inject({
    method: 'POST',
    url: '/v1/sales/imports',
    headers: { ...auth, 'content-type': 'text/csv' },
    payload: csv,
  });
  expect(accepted.statusCode).toBe(202);
  const { jobId } = accepted.json();
  const done = await waitFor(
    async () => {
      const status = (await get(`/v1/jobs/${jobId}`)).json();
      // GET /v1/jobs/:id reads the job, then its state: a job finishing in between shows as
      // completed without its result for one poll.
      return (status.state === 'completed' && status.result) || status.state === 'failed' ? status : null;
    },
    { timeoutMs: 30_000, what: 'the import job to finish' },
  );
  expect(done.error).toBeNull();
  return done.result as CsvImportResult;
}

describe('reports through a worker', () => {
  it('a CSV uploaded over HTTP is imported, its file deleted, and its totals and rejects are read back over HTTP', async () => {
    const csv = [
      'date,region,product_name,user_id,quantity,unit_price,total_amount',
      '2026-01-10,EU,Pen,1,3,0.10,0.30',
      '2026-01-10,EU,Pen,2,7,0.10,0.70',
      '2026-01-11,NA,Desk,3,10,999999999.99,9999999999.90',
      '2026-01-11,NA,Desk,4,1,100,1',
      '2026-01-12,APAC,Lamp,5,2,0.01,0.02',
    ].join('\n');
    const result = await importCsv(csv);
    expect(result).toMatchObject({ source: 'csv', received: 5, accepted: 4, rejected: 1 });
    // The upload is deleted once committed; only the (emptied) chunk folder remains.
    expect(readdirSync(stack.config.IMPORT_DIR).filter((f) => !f.startsWith('.'))).toEqual([]);

    const byDay = await get('/v1/sales/summary?groupBy=day&from=2026-01-10&to=2026-01-11');
    expect(byDay.statusCode).toBe(200);
    expect(byDay.json()).toEqual({
      groupBy: 'day',
      from: '2026-01-10',
      to: '2026-01-11',
      rows: [
        { key: '2026-01-10', count: 2, quantity: 10, revenue: '1.00' },
        { key: '2026-01-11', count: 1, quantity: 10, revenue: '9999999999.90' },
      ],
      totals: { count: 3, quantity: 20, revenue: '10000000000.90' },
      truncated: false,
    });
    const byRegion = (await get('/v1/sales/summary?groupBy=region')).json();
    expect(byRegion.rows.map((r: { key: string }) => r.key)).toEqual(['APAC', 'EU', 'NA']);

    const rejects = await get(`/v1/rejects?importId=${result.importId}&limit=10`);
    expect(rejects.statusCode).toBe(200);
    expect(rejects.json()).toMatchObject({
      total: 1,
      limit: 10,
      offset: 0,
      items: [
        {
          source: 'csv',
          batchId: result.importId,
          kind: 'csv',
          rowNumber: 5,
          reasons: [
            { index: 5, path: 'total_amount', message: expect.stringContaining('is not within 0.01') },
          ],
        },
      ],
    });
    expect((await get('/v1/rejects?source=csv&offset=1')).json()).toMatchObject({ total: 1, items: [] });
  });

  it('drills down from a figure to its rows, and from a row to the CSV file it came from', async () => {
    const csv = [
      'date,region,product_name,user_id,quantity,unit_price,total_amount',
      '2026-03-01,EU,Mug,11,1,4.50,4.50',
      '2026-03-02,EU,Mug,12,2,4.50,9.00',
      '2026-03-02,NA,Mug,13,1,4.50,4.50',
    ].join('\n');
    const result = await importCsv(csv);
    const figure = (await get('/v1/sales/analytics?from=2026-03-01&to=2026-03-31&region=EU')).json();
    expect(figure.current).toMatchObject({ revenue: '13.50', orders: 2 });
    // The same filters give the rows behind that figure, newest sale date first.
    const rows = await get('/v1/sales/rows?from=2026-03-01&to=2026-03-31&region=EU');
    expect(rows.statusCode).toBe(200);
    expect(rows.json()).toMatchObject({ total: 2, limit: 100, offset: 0 });
    expect(rows.json().items).toEqual([
      expect.objectContaining({
        date: '2026-03-02',
        userId: 12,
        quantity: 2,
        totalAmount: '9.00',
        batchId: result.importId,
      }),
      expect.objectContaining({
        date: '2026-03-01',
        userId: 11,
        unitPrice: '4.50',
        source: 'csv',
        externalId: null,
      }),
    ]);
    expect((await get('/v1/sales/rows?region=EU&from=2026-03-01&limit=1&offset=1')).json().items).toEqual([
      expect.objectContaining({ userId: 11 }),
    ]);
    expect((await get(`/v1/sales/rows?batchId=${result.importId}`)).json().total).toBe(3);
    // From a row to its origin: the CSV import, its file and its counts.
    const origin = await get(`/v1/sales/batches/${result.importId}`);
    expect(origin.statusCode).toBe(200);
    expect(origin.json()).toMatchObject({
      batchId: result.importId,
      kind: 'csv',
      source: 'csv',
      received: 3,
      stored: 3,
      rejected: 0,
      file: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: Buffer.byteLength(csv), state: 'done' },
      committedAt: expect.stringMatching(/^2\d{3}-/),
    });
    const unknown = await get('/v1/sales/batches/no-such-batch');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().detail).toContain('no-such-batch');
  });

  it('answers 400 for a bad query before any job is made', async () => {
    expect((await get('/v1/sales/rows?limit=5000')).statusCode).toBe(400);
    expect((await get('/v1/sales/rows?from=2026-02-01&to=2026-01-01')).statusCode).toBe(400);
    expect((await get('/v1/sales/rows?from=yesterday')).json().detail).toMatch(/from/);
    const bad = await get('/v1/sales/summary?groupBy=week');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect((await get('/v1/sales/summary?from=2026-02-01&to=2026-01-01')).statusCode).toBe(400);
    expect((await get('/v1/rejects?limit=0')).statusCode).toBe(400);
  });
});
