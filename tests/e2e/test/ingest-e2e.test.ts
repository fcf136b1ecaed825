import { afterEach, describe, expect, it } from 'vitest';
import { makeStack, sale, sales, sumOf } from './e2e-helpers.js';

let stack: Awaited<ReturnType<typeof makeStack>> | null = null;
afterEach(async () => {
  await stack?.close();
  stack = null;
});

describe('sales batch ingestion, end to end', () => {
  it('commits a valid 1,000-row batch; a batch with 10 bad rows stores 990 and quarantines 10 with reasons', async () => {
    stack = await makeStack();
    await stack.startWorker();
    const good = sales(1000);
    const res = await stack.post(good, {}, '?wait=true');
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 1000, rejected: 0, committed: true, duplicate: false });

    const mixed = sales(1000, 5000);
    for (let i = 0; i < 10; i++) mixed[i * 97] = sale(i, { unit_price: '1.999' });
    const receipt = (await stack.post(mixed, {}, '?wait=true')).json();
    expect(receipt).toMatchObject({ received: 1000, accepted: 990, rejected: 10, committed: true });
    expect(receipt.errors.every((e: { path: string }) => e.path === 'unit_price')).toBe(true);

    const stored = mixed.filter((_, i) => i % 97 !== 0 || i / 97 >= 10);
    const totals = await stack.totals();
    expect(totals.rows).toBe(1990);
    expect(totals.totalAmount).toBe(sumOf([...good, ...stored]));
    const rejects = await stack.readDb(async (conn) =>
      (
        await conn.runAndReadAll(
          `SELECT row_number, source, reasons, raw FROM rejects WHERE batch_id = $1 ORDER BY row_number`,
          [receipt.batchId],
        )
      ).getRowObjects(),
    );
    expect(rejects.map((r) => Number(r.row_number))).toEqual(Array.from({ length: 10 }, (_, i) => i * 97));
    expect(rejects[0]?.source).toBe('shop');
    expect(JSON.parse(String(rejects[0]?.reasons))[0]).toMatchObject({
      path: 'unit_price',
      message: 'unit_price must have at most 2 decimals',
    });
    expect(JSON.parse(String(rejects[0]?.raw))).toMatchObject({ unit_price: '1.999' });
  });

  it('stores a batch POSTed twice only once, with and without Idempotency-Key', async () => {
    stack = await makeStack();
    await stack.startWorker();
    const withKey = sales(300, 100);
    const withoutKey = sales(200, 900);
    for (let i = 0; i < 2; i++) {
      expect((await stack.post(withKey, { 'idempotency-key': 'retry-me' }, '?wait=true')).statusCode).toBe(
        202,
      );
      expect((await stack.post(withoutKey, {}, '?wait=true')).statusCode).toBe(202);
    }
    await stack.drained();
    expect((await stack.totals()).rows).toBe(500);
  });

  it('a sync-worker SIGKILLed in the middle of a stream and restarted leaves every accepted row stored exactly once', async () => {
    stack = await makeStack();
    const first = await stack.startWorker();
    const accepted: ReturnType<typeof sale>[] = [];
    let killed = false;
    for (let b = 0; b < 60; b++) {
      const batch = sales(500, b * 500);
      const res = await stack.post(batch, { 'idempotency-key': `stream-${b}` });
      expect(res.statusCode).toBe(202);
      accepted.push(...batch);
      if (b === 25) {
        // Kill it while it is committing (group commits run back to back under this load).
        first.kill('SIGKILL');
        await first.exited();
        killed = true;
        await stack.startWorker();
      }
    }
    expect(killed).toBe(true);
    await stack.drained();
    const failed = await stack.queue.getJobCounts('failed');
    expect(failed.failed).toBe(0);
    const totals = await stack.totals();
    expect(totals.rows).toBe(accepted.length);
    expect(totals.totalAmount).toBe(sumOf(accepted));
  });

  it('SIGTERM lets the current work finish, releases the lock and exits 0; nothing accepted is lost', async () => {
    stack = await makeStack();
    const worker = await stack.startWorker();
    const accepted: ReturnType<typeof sale>[] = [];
    for (let i = 0; i < 20; i++) {
      const batch = sales(500, i * 500);
      await stack.post(batch, { 'idempotency-key': `term-${i}` });
      accepted.push(...batch);
    }
    worker.kill('SIGTERM');
    const exit = await worker.exited();
    expect(exit.code).toBe(0);
    expect(worker.output()).toMatch(/"msg":"stopped"/);
    expect(worker.output()).toMatch(/writer lock released/);
    // Whatever it had not taken yet is still queued; a new worker finishes it.
    await stack.startWorker();
    await stack.drained();
    const totals = await stack.totals();
    expect(totals.rows).toBe(accepted.length);
    expect(totals.totalAmount).toBe(sumOf(accepted));
  });
});
