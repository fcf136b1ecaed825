import { readdirSync } from 'node:fs';
import { isolatedRedisUrl } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Lease } from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function redis() {
  const client = new Redis(await isolatedRedisUrl(inject('redisUrl')), { maxRetriesPerRequest: null });
  cleanups.push(() => client.disconnect());
  return client;
}

describe('the one lease', () => {
  it('one holder at a time; a holder whose lease was taken over can neither renew nor delete it', async () => {
    const client = await redis();
    const lost: string[] = [];
    const first = new Lease({
      redis: client,
      key: 'test:lease',
      leaseMs: 60_000,
      onLost: (r) => lost.push(r),
    });
    const second = new Lease({ redis: client, key: 'test:lease', leaseMs: 60_000 });
    expect(await first.tryAcquire()).toBe(true);
    expect(await second.tryAcquire()).toBe(false);
    expect(await first.renew()).toBe(true);

    // The first holder stalled past its TTL and the second took over.
    await client.del('test:lease');
    expect(await second.tryAcquire()).toBe(true);
    expect(await first.renew()).toBe(false);
    expect(lost).toEqual(['the lease expired or was taken over']);
    expect(first.token).toBeNull();
    await first.release();
    expect(await client.get('test:lease')).toBe(second.token);

    await second.release();
    expect(await client.exists('test:lease')).toBe(0);
  });

  it('a waiter gets the lease once the holder releases it, and gives up after its wait', async () => {
    const client = await redis();
    const holder = new Lease({ redis: client, key: 'test:lease', leaseMs: 60_000 });
    const waiter = new Lease({ redis: client, key: 'test:lease', leaseMs: 60_000 });
    await holder.tryAcquire();
    expect(await waiter.acquire({ waitMs: 150, pollMs: 50 })).toBe(false);
    const waiting = waiter.acquire({ waitMs: 30_000, pollMs: 20 });
    await holder.release();
    expect(await waiting).toBe(true);
    expect(await client.get('test:lease')).toBe(waiter.token);
  });

  it('the build ships every Lua script beside the code that loads it', () => {
    const source = readdirSync(new URL('../src/lua', import.meta.url)).sort();
    const built = readdirSync(new URL('../dist/lua', import.meta.url)).sort();
    expect(readdirSync(new URL('../dist/lua/includes', import.meta.url))).toEqual(
      readdirSync(new URL('../src/lua/includes', import.meta.url)),
    );
    expect(source.length).toBeGreaterThan(0);
    expect(built).toEqual(source);
  });
});
