import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { LockTimeoutError, WriterLock } from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function locks(count: number, options: { leaseMs?: number; pollMs?: number } = {}) {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const key = `test:writer-lock:${randomUUID()}`;
  const made = Array.from(
    { length: count },
    () => new WriterLock({ redis, key, leaseMs: 5_000, ...options }),
  );
  cleanups.push(async () => {
    await Promise.all(made.map((lock) => lock.close()));
    redis.disconnect();
  });
  return { redis, key, made };
}

describe('the writer lock', () => {
  it('hands over in arrival order: a holder that wants it back queues behind the waiter, and epochs grow', async () => {
    const {
      made: [a, b],
    } = locks(2);
    const first = await a!.acquire();
    const order: string[] = [];
    const bWaits = b!.acquire().then((grant) => {
      order.push('b');
      return grant;
    });
    // b stands in line before a releases; a then asks again and must wait behind b.
    for (let i = 0; i < 200 && (await a!.waiters()) < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await a!.waiters()).toBe(1);
    await a!.release();
    const aAgain = a!.acquire().then((grant) => {
      order.push('a');
      return grant;
    });
    const second = await bWaits;
    await b!.release();
    const third = await aAgain;
    expect(order).toEqual(['b', 'a']);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(third.epoch).toBeGreaterThan(second.epoch);
  });

  it('a holder whose lease was taken over learns it at its next confirm and loses the grant', async () => {
    const {
      redis,
      key,
      made: [a],
    } = locks(1);
    const lost: string[] = [];
    a!.on('lost', (reason) => lost.push(reason));
    await a!.acquire();
    expect(await a!.confirm()).toBe(true);
    await redis.set(key, 'someone-else');
    expect(await a!.confirm()).toBe(false);
    expect(lost).toEqual(['the lease expired or was taken over']);
    expect(a!.grant).toBeNull();
    await a!.release();
    expect(await redis.get(key)).toBe('someone-else');
  });

  it('a waiter gives up after its timeout with LockTimeoutError and leaves the line', async () => {
    const {
      made: [a, b],
    } = locks(2);
    await a!.acquire();
    await expect(b!.acquire({ timeoutMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await a!.waiters()).toBe(0);
  });
});
