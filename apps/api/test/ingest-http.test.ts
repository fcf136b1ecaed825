import { setTimeout as delay } from 'node:timers/promises';
import { QUEUES } from '@datasync/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, BOTH_KEY, INGEST_KEY, makeApi, OPERATOR_KEY, sale, sales } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
beforeAll(async () => {
  api = await makeApi({ MAX_BODY_BYTES: String(2 * 1024 * 1024) });
});
afterAll(() => api.close());

const post = (body: unknown, headers: Record<string, string> = {}, url = '/v1/sales/batches') =>
  api.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...auth(INGEST_KEY), ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

function expectProblem(
  res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown },
  status: number,
  detail: RegExp,
) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = res.json() as { status: number; title: string; detail: string; type: string };
  expect(body.status).toBe(status);
  expect(body.title).toBeTruthy();
  expect(body.type).toMatch(/^https?:\/\//);
  expect(body.detail).toMatch(detail);
  return body;
}

describe('POST /v1/sales/batches', () => {
  it('answers 202 with a receipt naming each bad record by index and field, and queues the batch', async () => {
    const records = sales(1000);
    for (let i = 0; i < 10; i++) records[i * 100] = sale(i * 100, { quantity: 0, region: '' });
    const res = await post(records);
    expect(res.statusCode).toBe(202);
    const receipt = res.json();
    expect(receipt).toMatchObject({ received: 1000, accepted: 990, rejected: 10 });
    expect(receipt.errors).toHaveLength(20);
    expect(receipt.errors[0]).toEqual({
      index: 0,
      path: 'quantity',
      message: 'quantity must be between 1 and 1000000',
    });
    expect(receipt.errors.map((e: { index: number }) => e.index)).toEqual(
      Array.from({ length: 10 }, (_, i) => [i * 100, i * 100]).flat(),
    );
    const job = await api.deps.queues.get(QUEUES.ingest)!.getJob(receipt.jobId);
    expect(job?.data.sales).toHaveLength(990);
    expect(job?.data.rejects).toHaveLength(10);
    expect(job?.data.source).toBe('shop');
  });

  it('accepts {"records": [...]} and NDJSON, where a line that is not JSON is a rejected record', async () => {
    const wrapped = await post({ records: sales(3) });
    expect(wrapped.statusCode).toBe(202);
    expect(wrapped.json()).toMatchObject({ received: 3, accepted: 3, rejected: 0 });
    const ndjson = `${JSON.stringify(sale(1))}\n{not json\n\n${JSON.stringify(sale(2))}\n`;
    const res = await post(ndjson, { 'content-type': 'application/x-ndjson' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ received: 3, accepted: 2, rejected: 1 });
    expect(res.json().errors[0]).toMatchObject({ index: 1, path: '' });
    expect(res.json().errors[0].message).toMatch(/not valid JSON/);
  });

  it('returns the first answer to a retry, with or without Idempotency-Key, and 422 for a reused key with another body', async () => {
    const body = sales(5, 500);
    const first = await post(body, { 'idempotency-key': 'order-42' });
    const again = await post(body, { 'idempotency-key': 'order-42' });
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().batchId).toBe(first.json().batchId);
    const other = await post(sales(5, 900), { 'idempotency-key': 'order-42' });
    expectProblem(other, 422, /different body/);

    const noKey = await post(sales(4, 700));
    const noKeyAgain = await post(sales(4, 700));
    expect(noKeyAgain.json().batchId).toBe(noKey.json().batchId);
    // The same body from another source is another batch.
    const otherSource = await post(sales(4, 700), auth(BOTH_KEY));
    expect(otherSource.json().batchId).not.toBe(noKey.json().batchId);
  });

  it('answers 409 with Retry-After while the first request with the key is still in flight', async () => {
    const { IdempotencyStore } = await import('../src/ingest/idempotency.js');
    const store = new IdempotencyStore({ redis: api.deps.redis, ttlSeconds: 60 });
    const body = JSON.stringify(sales(2, 50));
    const { createHash } = await import('node:crypto');
    // Another api process has begun this key and not answered yet.
    await store.begin('shop', 'in-flight-1', createHash('sha256').update(body).digest('hex'));
    const res = await post(body, { 'idempotency-key': 'in-flight-1' });
    expectProblem(res, 409, /still being processed/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it.each([
    ['malformed JSON', '[{"date": ', {}, 400, /not valid JSON/],
    ['an empty body', '', {}, 400, /empty/],
    ['an empty array', '[]', {}, 400, /no records/],
    ['a JSON object without records', '{"sales": []}', {}, 400, /JSON array of sales/],
    ['a wrong content type', 'date,user_id', { 'content-type': 'text/csv' }, 415, /content-type|media type/i],
    ['a bad Idempotency-Key', '[{}]', { 'idempotency-key': 'has space' }, 400, /Idempotency-Key/],
  ] as const)(
    'rejects %s with a problem that says what is wrong',
    async (_name, payload, headers, status, detail) => {
      const res = await post(payload, headers as Record<string, string>);
      expectProblem(res, status, detail);
    },
  );

  it('rejects 10,001 records and a body over MAX_BODY_BYTES with 413', async () => {
    const tooMany = await post(Array.from({ length: 10_001 }, () => ({})));
    expectProblem(tooMany, 413, /10001 records; the limit is 10000/);
    const huge = await post(JSON.stringify([{ product_name: 'x'.repeat(3 * 1024 * 1024) }]));
    expectProblem(huge, 413, /larger than the limit/);
  });

  it('answers 401 without a key or with a wrong key, and 403 for a key without the ingest scope', async () => {
    const none = await api.app.inject({ method: 'POST', url: '/v1/sales/batches', payload: sales(1) });
    expectProblem(none, 401, /missing API key/);
    expect(none.headers['www-authenticate']).toMatch(/Bearer/);
    expectProblem(await post(sales(1), auth('not-a-key-0123456789')), 401, /invalid API key/);
    expectProblem(await post(sales(1), auth(OPERATOR_KEY)), 403, /lacks the ingest scope/);
  });

  it('answers 429 with Retry-After when the backlog is over its limit', async () => {
    const small = await (await import('./helpers.js')).makeApi({ MAX_INGEST_BACKLOG: '2' });
    try {
      const send = (i: number) =>
        small.app.inject({
          method: 'POST',
          url: '/v1/sales/batches',
          headers: { 'content-type': 'application/json', ...auth(INGEST_KEY) },
          payload: JSON.stringify(sales(1, i)),
        });
      expect((await send(1)).statusCode).toBe(202);
      expect((await send(2)).statusCode).toBe(202);
      await delay(300); // the backlog count is cached for 250 ms
      const res = await send(3);
      expectProblem(res, 429, /backlog is 2 batches/);
      expect(res.headers['retry-after']).toBe('5');
    } finally {
      await small.close();
    }
  });
});

describe('other routes', () => {
  it('GET /health answers without auth; unknown routes are problem+json 404', async () => {
    expect((await api.app.inject({ url: '/health' })).json()).toMatchObject({ status: 'ok' });
    expectProblem(await api.app.inject({ url: '/v1/nope' }), 404, /no route GET \/v1\/nope/);
  });

  it('GET /ready is 503 naming the queues without a worker', async () => {
    const res = await api.app.inject({ url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'not-ready',
      redis: 'ok',
      queues: { ingest: { workers: 0, ok: false } },
    });
  });

  it('serves OpenAPI generated from the schemas, and the docs page', async () => {
    const spec = (await api.app.inject({ url: '/openapi.json' })).json();
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/v1/sales/batches', '/v1/jobs/{id}', '/v1/jobs/{type}', '/health', '/ready']),
    );
    expect(spec.paths['/v1/sales/batches'].post.requestBody).toBeTruthy();
    expect((await api.app.inject({ url: '/docs/' })).statusCode).toBe(200);
  });

  it('POST /v1/jobs/:type validates options, enqueues, and GET /v1/jobs/:id reports the job', async () => {
    const bad = await api.app.inject({
      method: 'POST',
      url: '/v1/jobs/restore',
      headers: auth(OPERATOR_KEY),
      payload: {},
    });
    expectProblem(bad, 400, /invalid options for restore/);
    expect(bad.json().errors[0]).toMatchObject({ path: 'name' });
    expectProblem(
      await api.app.inject({
        method: 'POST',
        url: '/v1/jobs/launch-rockets',
        headers: auth(OPERATOR_KEY),
        payload: {},
      }),
      400,
      /invalid/,
    );
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/jobs/backup',
      headers: auth(OPERATOR_KEY),
      payload: {},
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ type: 'backup', queue: 'backup', workers: 0 });
    const status = await api.app.inject({ url: `/v1/jobs/${res.json().jobId}`, headers: auth(OPERATOR_KEY) });
    expect(status.json()).toMatchObject({
      id: res.json().jobId,
      type: 'backup',
      state: 'waiting',
      attempts: 0,
      error: null,
    });
    expectProblem(
      await api.app.inject({ url: '/v1/jobs/nope', headers: auth(OPERATOR_KEY) }),
      404,
      /no job nope/,
    );
    expectProblem(await api.app.inject({ url: '/v1/jobs/nope', headers: auth(INGEST_KEY) }), 403, /operator/);
  });

  it('Bull Board wants the operator key, and takes it as a Basic password from a browser', async () => {
    const none = await api.app.inject({ url: '/admin/queues' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/Basic/);
    const basic = Buffer.from(`admin:${OPERATOR_KEY}`).toString('base64');
    const ok = await api.app.inject({ url: '/admin/queues', headers: { authorization: `Basic ${basic}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toMatch(/<html/i);
  });
});
