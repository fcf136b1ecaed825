import { readdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { QUEUES } from '@datasync/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, makeStack } from './e2e-helpers.js';

const OPERATOR_KEY = 'operator-secret-0123456789';
let stack: Awaited<ReturnType<typeof makeStack>> | null = null;
afterEach(async () => {
  await stack?.close();
  stack = null;
});

/** 750,000 rows (3 chunks of CSV_CHUNK_ROWS=250,000), every 1000th with a total that is off. */
function bigCsv(rows: number): string {
  const lines = ['id,date,user_id,product_name,quantity,unit_price,total_amount,region'];
  for (let i = 0; i < rows; i++) {
    const quantity = (i % 4) + 1;
    const cents = 100 + (i % 900);
    const total = i % 1000 === 0 ? cents * quantity + 5 : cents * quantity;
    lines.push(
      `S-${i},2026-01-${String((i % 28) + 1).padStart(2, '0')},${(i % 90) + 1},Item ${i % 300},${quantity},${(cents / 100).toFixed(2)},${(total / 100).toFixed(2)},EU`,
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('CSV import across a worker crash', () => {
  it('a sync-worker SIGKILLed in the middle of an import: the job resumes on another worker and stores every row once', async () => {
    stack = await makeStack({
      API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
      CSV_CHUNK_ROWS: '250000',
    });
    const first = await stack.startWorker();
    const rows = 750_000;
    const accepted = await stack.app.inject({
      method: 'POST',
      url: '/v1/sales/imports',
      headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'text/csv' },
      payload: bigCsv(rows),
    });
    expect(accepted.statusCode).toBe(202);
    const queue = stack.api.deps.queues.get(QUEUES.salesSync)!;
    const job = await queue.getJob(accepted.json().jobId);
    let progress = 0;
    while (progress === 0) {
      await delay(10);
      progress = Number((await queue.getJob(job!.id!))?.progress ?? 0);
    }
    first.kill('SIGKILL'); // after its first chunk committed, most likely inside the next one
    await first.exited();
    expect(progress).toBeLessThan(100);

    await stack.startWorker();
    const done = await job!.waitUntilFinished(stack.api.deps.queueEvents(QUEUES.salesSync), 120_000);
    const bad = Math.ceil(rows / 1000);
    expect(done).toMatchObject({
      received: rows,
      accepted: rows - bad,
      rejected: bad,
      duplicates: 0,
      chunks: 3,
    });
    const counts = await stack.readDb(async (conn) => {
      const r = await conn.runAndReadAll(
        `SELECT (SELECT count(*) FROM sales)::INTEGER AS sales, (SELECT count(DISTINCT external_id) FROM sales)::INTEGER AS ids,
                (SELECT count(*) FROM rejects)::INTEGER AS rejects,
                (SELECT list(row_number ORDER BY row_number)[1:3] FROM rejects) AS lines`,
      );
      return r.getRowObjectsJson()[0];
    });
    expect(counts).toEqual({ sales: rows - bad, ids: rows - bad, rejects: bad, lines: [2, 1002, 2002] });
    expect(readdirSync(stack.env.IMPORT_DIR!).filter((f) => !f.startsWith('.'))).toEqual([]);
  });
});
