import { testSale } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { inject } from 'vitest';
import { DatabaseWriter, WriterLock } from '../src/index.js';
import type { SalesBatch } from '../src/sales.js';

export const quietLogger = pino({ level: 'silent' });

export function makeSale(
  i: number,
  overrides: Partial<SalesBatch['sales'][number]> = {},
): SalesBatch['sales'][number] {
  return { id: null, ...testSale(i), ...overrides };
}

export function makeBatch(batchId: string, rows: number, start = 0): SalesBatch {
  return {
    batchId,
    source: 'test',
    idempotencyKeyHash: null,
    bodyHash: batchId,
    received: rows,
    sales: Array.from({ length: rows }, (_, k) => makeSale(start + k)),
    rejects: [],
  };
}

export function makeWriter(path: string, lockKey: string, options: { leaseMs?: number } = {}) {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const lock = new WriterLock({ redis, key: lockKey, leaseMs: options.leaseMs ?? 2_000 });
  const writer = new DatabaseWriter({ path, lock, logger: quietLogger, idleReleaseMs: 0 });
  return {
    writer,
    lock,
    redis,
    close: async () => {
      await writer.close();
      redis.disconnect();
    },
  };
}
