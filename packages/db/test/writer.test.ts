import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnNode, tempDir, waitFor } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { commitSalesBatches, DatabaseWriter, salesTotals, WriterLock } from '../src/index.js';
import { ROLLUP_FROM_SALES_SQL } from '../src/sales-rollup.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir('datasync-db-');
  const path = join(dir.path, 'test.duckdb');
  const lockKey = `test:lock:${randomUUID()}`;
  const w = makeWriter(path, lockKey);
  cleanups.push(dir.cleanup, w.close);
  return { ...w, path, lockKey, dir: dir.path };
}

describe('sales batch commit', () => {
  it('stores a 1,000-row batch once, and a re-run of the same batch writes nothing', async () => {
    const { writer } = setup();
    const batch = makeBatch('b-1', 1000);
    const [first] = await writer.transaction((tx) => commitSalesBatches(tx, [batch]));
    const [again] = await writer.transaction((tx) => commitSalesBatches(tx, [batch]));
    expect(first).toMatchObject({ stored: 1000, duplicate: false });
    expect(again).toMatchObject({ stored: 0, duplicate: true });
    const totals = await writer.read((conn) => salesTotals(conn));
    const expected = batch.sales.reduce((sum, s) => sum + Math.round(Number(s.total_amount) * 100), 0);
    expect(totals.rows).toBe(1000);
    expect(totals.totalAmount).toBe((expected / 100).toFixed(2));
  });

  it('stores a sale with an id once per (source, id); the same id with new values updates it', async () => {
    const { writer } = setup();
    const a = { ...makeBatch('b-a', 0), sales: [makeSale(1, { id: 'up-1' }), makeSale(2, { id: 'up-2' })] };
    const b = {
      ...makeBatch('b-b', 0),
      sales: [
        makeSale(3, { id: 'up-1', quantity: 1, unit_price: '5.00', total_amount: '5.00' }),
        makeSale(4),
      ],
    };
    // The same id twice in one batch: the last one wins.
    const c = {
      ...makeBatch('b-c', 0),
      sales: [makeSale(5, { id: 'up-3', region: 'first' }), makeSale(6, { id: 'up-3', region: 'last' })],
    };
    await writer.transaction((tx) => commitSalesBatches(tx, [a]));
    await writer.transaction((tx) => commitSalesBatches(tx, [b, c]));
    const rows = await writer.read(async (conn) =>
      (
        await conn.runAndReadAll(
          `SELECT external_id, total_amount::VARCHAR AS t, region FROM sales WHERE external_id IS NOT NULL ORDER BY 1`,
        )
      ).getRowObjects(),
    );
    expect(rows).toEqual([
      { external_id: 'up-1', t: '5.00', region: expect.any(String) },
      { external_id: 'up-2', t: expect.any(String), region: expect.any(String) },
      { external_id: 'up-3', t: expect.any(String), region: 'last' },
    ]);
    expect((await writer.read((conn) => salesTotals(conn))).rows).toBe(4);
  });

  it('keeps money exact as DECIMAL(18,2)', async () => {
    const { writer } = setup();
    const sales = Array.from({ length: 10 }, (_, i) =>
      makeSale(i, { quantity: 3, unit_price: '0.10', total_amount: '0.30' }),
    );
    await writer.transaction((tx) => commitSalesBatches(tx, [{ ...makeBatch('money', 0), sales }]));
    const { totalAmount } = await writer.read((conn) => salesTotals(conn));
    expect(totalAmount).toBe('3.00');
  });
});

describe('reads across a close of the file', () => {
  it('exclusive work waits for a read in flight before it closes the file', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b-1', 10)]));
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = writer.read(async (conn) => {
      await held;
      const { rows } = await salesTotals(conn);
      events.push(`read saw ${rows}`);
    });
    await delay(20);
    const copy = writer.exclusive(async () => {
      events.push('exclusive');
    });
    await delay(200);
    expect(events).toEqual([]);
    release();
    await Promise.all([slow, copy]);
    expect(events).toEqual(['read saw 10', 'exclusive']);
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b-2', 5)]));
    expect((await writer.read((conn) => salesTotals(conn))).rows).toBe(15);
  });

  it('a read arriving during exclusive work waits, and sees the file as the work left it', async () => {
    const { writer, path } = setup();
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b-1', 10)]));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => {
      started = resolve;
    });
    let finish!: () => void;
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    // As a restore does: the file is changed behind the writer's back while it is closed.
    const restore = writer.exclusive(async () => {
      started();
      await held;
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const other = await DuckDBInstance.create(path);
      const conn = await other.connect();
      await conn.run('DELETE FROM sales WHERE rowid IN (SELECT rowid FROM sales LIMIT 4)');
      await conn.run('DELETE FROM sales_daily');
      await conn.run(`INSERT INTO sales_daily ${ROLLUP_FROM_SALES_SQL}`);
      await conn.run('CHECKPOINT');
      conn.disconnectSync();
      other.closeSync();
    });
    await inside;
    let seen: number | null = null;
    const reading = writer.read(async (conn) => {
      seen = (await salesTotals(conn)).rows;
    });
    await delay(200);
    expect(seen).toBeNull();
    finish();
    await Promise.all([restore, reading]);
    expect(seen).toBe(6);
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('b-2', 5)]));
    expect((await writer.read((conn) => salesTotals(conn))).rows).toBe(11);
  });
});

describe('writer lock', () => {
  it('a second process waits for the lock instead of failing, and gets it within a bounded time', async () => {
    const { writer, path, lockKey } = setup();
    const { redisUrl } = await import('./inject.js');
    // This process holds the database open, committing without pause.
    let stop = false;
    let committed = 0;
    const loop = (async () => {
      let n = 0;
      while (!stop) {
        await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch(`loop-${n++}`, 200)]));
        committed++;
      }
    })();
    await waitFor(() => committed > 3, { what: 'first commits' });
    // Another process asks for the lock, commits 5 batches, and reports its waits.
    const other = spawnNode(join(import.meta.dirname, 'fixtures/commit-batches.mjs'), {
      REDIS_URL: redisUrl,
      DB_PATH: path,
      LOCK_KEY: lockKey,
      BATCHES: '5',
    });
    const result = await other.exited();
    const beforeStop = committed;
    await waitFor(() => committed > beforeStop, { what: 'this process resumes after the other' });
    stop = true;
    await loop;
    const out = other.output();
    expect(result.code, out).toBe(0);
    expect(out).not.toMatch(/Could not set lock/);
    const report = JSON.parse(out.trim().split('\n').pop()!);
    expect(report.committed).toBe(5);
    expect(report.maxWaitMs).toBeLessThan(5_000);
    const totals = await writer.read((conn) => salesTotals(conn));
    expect(totals.rows).toBe(committed * 200 + 5 * 100);
  });

  it('a holder that dies loses the lease within the lease time, and the next waiter proceeds', async () => {
    const { lockKey, path } = setup();
    const { redisUrl } = await import('./inject.js');
    const holder = spawnNode(join(import.meta.dirname, 'fixtures/commit-batches.mjs'), {
      REDIS_URL: redisUrl,
      DB_PATH: path,
      LOCK_KEY: lockKey,
      BATCHES: '1',
      HOLD_MS: '60000',
      LEASE_MS: '1500',
    });
    await holder.waitForOutput(/holding/);
    holder.kill('SIGKILL');
    await holder.exited();
    const killedAt = Date.now();
    const next = makeWriter(path, lockKey);
    cleanups.push(next.close);
    const [r] = await next.writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('after-death', 10)]));
    expect(r?.stored).toBe(10);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect((await next.writer.read((c) => salesTotals(c))).rows).toBe(110);
  });
});

describe('a stale lock holder', () => {
  it('paused past its lease and resumed never commits: the waiter waits without crashing and proceeds', async () => {
    const { lockKey, path } = setup();
    const { redisUrl } = await import('./inject.js');
    const holder = spawnNode(join(import.meta.dirname, 'fixtures/commit-batches.mjs'), {
      REDIS_URL: redisUrl,
      DB_PATH: path,
      LOCK_KEY: lockKey,
      BATCHES: '1',
      LEASE_MS: '1000',
      PAUSE_IN_TX_MS: '1500',
    });
    cleanups.push(() => holder.kill('SIGKILL'));
    await holder.waitForOutput(/in-transaction/);
    holder.kill('SIGSTOP');
    await delay(2_500); // the lease (1 s) runs out while it is stopped
    const next = makeWriter(path, lockKey, { leaseMs: 1_000 });
    cleanups.push(next.close);
    const mine = next.writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('after-pause', 10)]));
    await delay(1_000); // it has the lease, and waits for DuckDB's file lock
    holder.kill('SIGCONT');
    const [result] = await mine;
    expect(result?.stored).toBe(10);
    await holder.exited();
    expect(holder.output()).toMatch(/commit failed: LockLostError/);
    const batches = await next.writer.read(async (conn) =>
      (await conn.runAndReadAll('SELECT batch_id FROM ingest_batches ORDER BY 1'))
        .getRowObjects()
        .map((r) => r.batch_id),
    );
    expect(batches).toEqual(['after-pause']);
  });
});

describe('a process outside the stack holding the file', () => {
  it('is named and published while the writer waits past its open timeout without failing; the write lands once it closes the file', async () => {
    const { writer, path, lockKey, redis } = setup();
    await writer.transaction((tx) => commitSalesBatches(tx, [makeBatch('before', 10)]));
    await writer.close(); // the file is free, as after an idle release
    const reader = spawnNode(join(import.meta.dirname, 'fixtures/read-only-holder.mjs'), { DB_PATH: path });
    cleanups.push(() => reader.kill('SIGKILL'));
    await reader.waitForOutput(/holding/);

    const warnings: { obj: object; msg: string }[] = [];
    const published: ({ pid: number | null; program: string | null } | null)[] = [];
    const blocked = new DatabaseWriter({
      path,
      lock: new WriterLock({ redis, key: lockKey, leaseMs: 2_000 }),
      logger: {
        debug() {},
        info() {},
        error() {},
        warn: (obj: object, msg: string) => void warnings.push({ obj, msg }),
      },
      idleReleaseMs: 0,
      // Shorter than the hold below: before, the write failed with DuckDB's lock error here.
      openTimeoutMs: 500,
      observer: { outsideHolder: (h) => void published.push(h) },
    });
    cleanups.push(() => blocked.close());
    const write = blocked.transaction((tx) => commitSalesBatches(tx, [makeBatch('while-held', 10, 10)]));
    let settled = false;
    void write.finally(() => (settled = true)).catch(() => undefined);
    await waitFor(() => published.length > 0, { what: 'the outside holder to be published' });
    await delay(1_500); // past openTimeoutMs (500 ms)
    expect(settled).toBe(false);
    expect(warnings[0]?.msg).toMatch(new RegExp(`PID ${reader.child.pid}\\) outside datasync`));
    expect(warnings[0]?.obj).toMatchObject({ holderPid: reader.child.pid, path });
    expect(published[0]).toMatchObject({ pid: reader.child.pid, program: expect.stringMatching(/node/) });

    reader.kill('SIGTERM');
    await reader.exited();
    const [result] = await write;
    expect(result).toMatchObject({ stored: 10, duplicate: false });
    expect(published.at(-1)).toBeNull();
    expect((await blocked.read((c) => salesTotals(c))).rows).toBe(20);
  });

  it('a paused datasync holder is not taken for an outside process', async () => {
    const { lockKey, path } = setup();
    const { redisUrl } = await import('./inject.js');
    const holder = spawnNode(join(import.meta.dirname, 'fixtures/commit-batches.mjs'), {
      REDIS_URL: redisUrl,
      DB_PATH: path,
      LOCK_KEY: lockKey,
      BATCHES: '1',
      LEASE_MS: '1000',
      PAUSE_IN_TX_MS: '1500',
    });
    cleanups.push(() => holder.kill('SIGKILL'));
    await holder.waitForOutput(/in-transaction/);
    holder.kill('SIGSTOP');
    await delay(2_000); // its lease (1 s) runs out while it is stopped
    const warnings: string[] = [];
    const published: unknown[] = [];
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    cleanups.push(() => redis.disconnect());
    const next = new DatabaseWriter({
      path,
      lock: new WriterLock({ redis, key: lockKey, leaseMs: 1_000 }),
      logger: {
        debug() {},
        info() {},
        error() {},
        warn: (_o: object, msg: string) => void warnings.push(msg),
      },
      idleReleaseMs: 0,
      observer: { outsideHolder: (h) => void published.push(h) },
    });
    cleanups.push(() => next.close());
    const mine = next.transaction((tx) => commitSalesBatches(tx, [makeBatch('after-pause', 10)]));
    await delay(1_000);
    holder.kill('SIGCONT');
    const [result] = await mine;
    expect(result?.stored).toBe(10);
    expect(warnings.filter((m) => /outside datasync/.test(m))).toEqual([]);
    expect(published).toEqual([]);
  });
});
