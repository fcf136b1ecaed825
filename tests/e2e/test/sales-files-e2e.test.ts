import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { QUEUES } from '@datasync/schemas';
import { tempDir } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, makeStack } from './e2e-helpers.js';

const OPERATOR_KEY = 'operator-secret-0123456789';
const auth = { authorization: `Bearer ${OPERATOR_KEY}` };
let stack: Awaited<ReturnType<typeof makeStack>> | null = null;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await stack?.close();
  stack = null;
  for (const c of cleanups.splice(0)) c();
});

/** A Parquet file of `rows` sales written by DuckDB's COPY, every 1000th with a total that is off. */
async function parquetFile(rows: number): Promise<Buffer> {
  const dir = tempDir('datasync-parquet-');
  cleanups.push(dir.cleanup);
  const path = join(dir.path, 'sales.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (
    SELECT 'P-' || i AS id, DATE '2026-01-01' + (i % 28)::INTEGER AS date, (i % 90) + 1 AS user_id,
      'Item ' || (i % 300) AS product_name, (i % 4) + 1 AS quantity,
      ((100 + i % 900) / 100)::DECIMAL(18,2) AS unit_price,
      (((100 + i % 900) * ((i % 4) + 1) + CASE WHEN i % 1000 = 0 THEN 5 ELSE 0 END) / 100)::DECIMAL(18,2) AS total_amount,
      'EU' AS region
    FROM range(${rows}) t(i) ORDER BY i) TO '${path}' (FORMAT parquet)`);
  conn.disconnectSync();
  db.closeSync();
  return readFileSync(path);
}

describe('Parquet and NDJSON uploads through the api', () => {
  it('a Parquet upload and an NDJSON upload (found by content) are imported with their rejects listed by row and line; the same Parquet twice stores nothing', async () => {
    stack = await makeStack({ API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}` });
    await stack.startWorker();
    const queue = stack.api.deps.queues.get(QUEUES.salesSync)!;
    const upload = async (payload: Buffer | string, type: string) => {
      const res = await stack!.app.inject({
        method: 'POST',
        url: '/v1/sales/imports',
        headers: { ...auth, 'content-type': type },
        payload,
      });
      expect(res.statusCode).toBe(202);
      const job = await queue.getJob(res.json().jobId);
      return job!.waitUntilFinished(stack!.api.deps.queueEvents(QUEUES.salesSync), 60_000);
    };
    const parquet = await parquetFile(3000);
    const first = await upload(parquet, 'application/vnd.apache.parquet');
    expect(first).toMatchObject({ format: 'parquet', received: 3000, accepted: 2997, rejected: 3 });
    const rejects = await stack.app.inject({
      url: `/v1/rejects?importId=${first.importId}`,
      headers: auth,
    });
    expect(rejects.json().items.map((r: { rowNumber: number }) => r.rowNumber)).toEqual([1, 1001, 2001]);
    expect(await upload(parquet, 'application/vnd.apache.parquet')).toMatchObject({
      accepted: 0,
      duplicateOf: first.importId,
    });

    const ndjson = [
      JSON.stringify({
        date: '2026-01-02',
        user_id: 1,
        product_name: 'Pen',
        quantity: 2,
        unit_price: 1.5,
        total_amount: 3,
        region: 'EU',
      }),
      '{"date": "2026-01-02",',
      JSON.stringify({
        date: '2026-01-02',
        user_id: 2,
        product_name: 'Ink',
        quantity: 1,
        unit_price: '2.00',
        total_amount: '2.00',
        region: 'EU',
      }),
    ].join('\n');
    const lines = await upload(ndjson, 'application/octet-stream');
    expect(lines).toMatchObject({ format: 'ndjson', received: 3, accepted: 2, rejected: 1 });
    const lineRejects = await stack.app.inject({
      url: `/v1/rejects?importId=${lines.importId}`,
      headers: auth,
    });
    expect(lineRejects.json().items).toEqual([
      expect.objectContaining({
        rowNumber: 2,
        reasons: [{ index: 2, path: '', message: 'the line is not valid JSON' }],
      }),
    ]);
    const counts = await stack.readDb(
      async (conn) =>
        (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM sales')).getRowObjectsJson()[0],
    );
    expect(counts).toEqual({ n: 2997 + 2 });
  });

  it('a sync-worker SIGKILLed in the middle of a Parquet import: the job resumes on another worker and stores every row once', async () => {
    stack = await makeStack({
      API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
      CSV_CHUNK_ROWS: '250000',
    });
    const first = await stack.startWorker();
    const rows = 750_000;
    const accepted = await stack.app.inject({
      method: 'POST',
      url: '/v1/sales/imports',
      headers: { ...auth, 'content-type': 'application/vnd.apache.parquet' },
      payload: await parquetFile(rows),
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
    const bad = rows / 1000;
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
                (SELECT list(row_number ORDER BY row_number)[1:3] FROM rejects) AS rows`,
      );
      return r.getRowObjectsJson()[0];
    });
    expect(counts).toEqual({ sales: rows - bad, ids: rows - bad, rejects: bad, rows: [1, 1001, 2001] });
    expect(readdirSync(stack.env.IMPORT_DIR!).filter((f) => !f.startsWith('.'))).toEqual([]);
  });
});
