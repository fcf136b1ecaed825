import { waitFor } from '@datasync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_KEY, makeStack, sale } from './e2e-helpers.js';

const OPERATOR_KEY = 'operator-secret-0123456789';
let stack: Awaited<ReturnType<typeof makeStack>>;
beforeAll(async () => {
  stack = await makeStack({ API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}` });
  await stack.startWorker();
}, 60_000);
afterAll(() => stack?.close());

const operator = { authorization: `Bearer ${OPERATOR_KEY}` };

async function runJob(url: string, payload: string) {
  const res = await stack.app.inject({
    method: 'POST',
    url,
    headers: { ...operator, 'content-type': 'text/csv' },
    payload,
  });
  expect(res.statusCode).toBe(202);
  const { jobId } = res.json();
  return waitFor(
    async () => {
      const status = (await stack.app.inject({ url: `/v1/jobs/${jobId}`, headers: operator })).json();
      return (status.state === 'completed' && status.result) || status.state === 'failed' ? status : null;
    },
    { timeoutMs: 60_000, what: `job ${jobId}` },
  );
}

describe('GET /v1/rejects lists every kind of quarantined record', () => {
  it('JSON batch, NDJSON line, CSV import (bad values, a malformed line) and user import rejects, each with its reasons', async () => {
    const batch = await stack.post([sale(1), sale(2, { quantity: 0 })], {}, '?wait=true');
    expect(batch.statusCode).toBe(202);
    const ndjson = await stack.app.inject({
      method: 'POST',
      url: '/v1/sales/batches?wait=true',
      headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/x-ndjson' },
      payload: `${JSON.stringify(sale(3))}\n{not json\n`,
    });
    expect(ndjson.statusCode).toBe(202);
    const csv = await runJob(
      '/v1/sales/imports',
      [
        'date,region,product_name,user_id,quantity,unit_price,total_amount',
        '2026-01-10,EU,Pen,1,3,0.10,0.30',
        '2026-01-10,EU,Pen,2,7,0.10,9.99',
        '2026-01-10,EU,Pen,2',
      ].join('\n'),
    );
    expect(csv.error).toBeNull();
    expect(csv.result).toMatchObject({ accepted: 1, rejected: 2 });
    const users = await runJob(
      '/v1/jobs/user-import',
      'username,email,role,initial_password\nann,ann@example.com,user,Seed-ann-Pw01\nbo,not-an-email,user,Seed-bo-Pw02\n',
    );
    expect(users.error).toBeNull();

    const res = await stack.app.inject({ url: '/v1/rejects?limit=100', headers: operator });
    expect(res.statusCode).toBe(200);
    const page = res.json() as {
      total: number;
      items: {
        kind: string;
        rowNumber: number;
        reasons: { index: number; path: string; message: string }[];
      }[];
    };
    expect(page.total).toBe(page.items.length);
    const kinds = page.items.map((i) => i.kind).sort();
    expect(kinds).toEqual(['csv', 'csv', 'sale', 'sale', 'user']);
    for (const item of page.items) {
      expect(item.reasons.length).toBeGreaterThan(0);
      for (const reason of item.reasons) {
        expect(reason).toEqual({
          index: expect.any(Number),
          path: expect.any(String),
          message: expect.any(String),
        });
      }
    }
    const user = page.items.find((i) => i.kind === 'user')!;
    expect(user.reasons[0]).toMatchObject({ index: user.rowNumber, path: 'username' });
    // Each kind filters on its own as well.
    for (const source of ['shop', 'csv']) {
      expect(
        (await stack.app.inject({ url: `/v1/rejects?source=${source}`, headers: operator })).statusCode,
      ).toBe(200);
    }
  });
});
