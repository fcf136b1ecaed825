import { setTimeout as delay } from 'node:timers/promises';
import { streamEntryCounts } from '@datasync/db';
import { readStreamLag } from '@datasync/runtime';
import { sumOfTotals, testSale, waitFor } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { makeStack } from './e2e-helpers.js';

/**
 * The real-time stream source with real sync-worker processes (built dist) killed with SIGKILL:
 * a producer keeps appending with XADD while workers die and restart, and at the end every entry
 * is stored exactly once (counted and summed; the sales carry no id, so a double would show).
 */
const STREAM = 'sales:live';
const GROUP = 'datasync';
type Stack = Awaited<ReturnType<typeof makeStack>>;
let stack: Stack | null = null;
let producer: Redis | null = null;
afterEach(async () => {
  producer?.disconnect();
  producer = null;
  await stack?.close();
  stack = null;
});

const STREAM_ENV = {
  SALES_STREAM_KEY: STREAM,
  SALES_STREAM_READ_COUNT: '200',
  SALES_STREAM_BLOCK_MS: '200',
  SALES_STREAM_CLAIM_IDLE_MS: '1000',
  LOG_LEVEL: 'debug',
};

/** Appends `total` sales in pipelined chunks, a short pause between chunks (a steady producer). */
async function produce(redis: Redis, total: number, chunk = 500) {
  const records = Array.from({ length: total }, (_, i) => testSale(i));
  for (let i = 0; i < total; i += chunk) {
    const pipe = redis.pipeline();
    for (const r of records.slice(i, i + chunk)) pipe.xadd(STREAM, '*', 'sale', JSON.stringify(r));
    await pipe.exec();
    await delay(20);
  }
  return records;
}

/** Entries the group has had delivered so far (XINFO GROUPS entries-read). */
async function entriesRead(redis: Redis): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', STREAM).catch(() => [])) as unknown[][];
  for (const g of groups) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
    if (info.name === GROUP) return Number(info['entries-read'] ?? 0);
  }
  return 0;
}

async function expectStoredOnce(s: Stack, records: ReturnType<typeof testSale>[]) {
  const totals = await s.totals();
  expect(totals.rows).toBe(records.length);
  expect(totals.totalAmount).toBe(sumOfTotals(records));
  const counts = await s.readDb((conn) => streamEntryCounts(conn, STREAM));
  expect(counts).toMatchObject({ stored: records.length, distinct: records.length, total: records.length });
}

describe('the stream source across worker crashes', () => {
  it('a sync-worker SIGKILLed twice mid-stream and restarted: every entry stored exactly once, then a clean SIGTERM', async () => {
    stack = await makeStack({ ...STREAM_ENV, SALES_STREAM_CONSUMER: 'worker-1' });
    producer = new Redis(stack.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const p = producer;
    let worker = await stack.startWorker();
    const producing = produce(p, 30_000);
    for (const atLeast of [6_000, 16_000]) {
      await waitFor(async () => (await entriesRead(p)) >= atLeast, {
        timeoutMs: 90_000,
        what: `${atLeast} read`,
      });
      worker.kill('SIGKILL');
      await worker.exited();
      const lag = await readStreamLag(p, STREAM, GROUP);
      console.log(
        `killed at ${await entriesRead(p)} entries read; ${lag.pending} pending at the dead worker`,
      );
      worker = await stack.startWorker(); // the same consumer name: its own pending entries first
    }
    const records = await producing;
    await waitFor(async () => (await readStreamLag(p, STREAM, GROUP)).entries === 0, {
      timeoutMs: 120_000,
      what: 'every entry committed',
    });
    expect(worker.output()).toMatch(/stream consumer started/);

    // SIGTERM while entries still arrive: it stops reading, commits and acknowledges the group, exits 0.
    const tail = produce(p, 2_000, 100).then((more) => more);
    await delay(100);
    worker.kill('SIGTERM');
    expect((await worker.exited()).code).toBe(0);
    expect(worker.output()).toMatch(/stream consumer stopped/);
    const more = await tail;
    expect((await readStreamLag(p, STREAM, GROUP)).pending).toBe(0);
    const last = await stack.startWorker();
    await waitFor(async () => (await readStreamLag(p, STREAM, GROUP)).entries === 0, {
      what: 'the tail committed',
    });
    last.kill('SIGKILL');
    await last.exited();
    await expectStoredOnce(stack, [...records, ...more]);
  });

  it('two workers on one group, the consuming one SIGKILLed with entries pending: the other claims them', async () => {
    stack = await makeStack(STREAM_ENV);
    producer = new Redis(stack.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const p = producer;
    const a = await stack.startWorker({ SALES_STREAM_CONSUMER: 'worker-a' });
    await a.waitForOutput(/leading: taking jobs/);
    const b = await stack.startWorker({ SALES_STREAM_CONSUMER: 'worker-b' });
    const producing = produce(p, 20_000);
    await waitFor(async () => (await entriesRead(p)) >= 5_000, { timeoutMs: 90_000, what: '5000 read' });
    // Kill it the moment it holds a group it has not acknowledged.
    const pendingAt = async (name: string) => {
      const summary = (await p.xpending(STREAM, GROUP)) as [
        number,
        string,
        string,
        [string, string][] | null,
      ];
      return Number(summary[3]?.find(([c]) => c === name)?.[1] ?? 0);
    };
    await waitFor(async () => (await pendingAt('worker-a')) > 0, {
      intervalMs: 1,
      what: 'entries pending at a',
    });
    a.kill('SIGKILL');
    await a.exited();
    const left = await pendingAt('worker-a');
    expect(left).toBeGreaterThan(0);

    const records = await producing;
    await waitFor(async () => (await readStreamLag(p, STREAM, GROUP)).entries === 0, {
      timeoutMs: 120_000,
      what: 'every entry committed',
    });
    expect(await pendingAt('worker-a')).toBe(0);
    expect(b.output()).toMatch(/claimed entries left pending by another consumer/);
    console.log(`worker-a died with ${left} entries pending; worker-b claimed them`);
    b.kill('SIGKILL');
    await b.exited();
    await expectStoredOnce(stack, records);
  });
});
