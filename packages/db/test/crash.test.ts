import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnNode, tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('kill -9 during heavy writes, then reopen', () => {
  it('keeps every committed row, and the ledger agrees with the rows, over several kill-and-reopen rounds', async () => {
    const dir = tempDir('datasync-crash-');
    cleanups.push(dir.cleanup);
    const path = join(dir.path, 'crash.duckdb');
    const lockKey = `test:lock:${randomUUID()}`;
    const { redisUrl } = await import('./inject.js');
    let acknowledged = 0;
    for (let round = 0; round < 3; round++) {
      const child = spawnNode(join(import.meta.dirname, 'fixtures/commit-batches.mjs'), {
        REDIS_URL: redisUrl,
        DB_PATH: path,
        LOCK_KEY: lockKey,
        BATCHES: '100000',
        REPORT_EACH: '1',
        LEASE_MS: '1000',
      });
      await child.waitForOutput(/committed 5\b/);
      await delay(200 + Math.random() * 300);
      child.kill('SIGKILL');
      await child.exited();
      const reported = [...child.output().matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
      acknowledged += Math.max(...reported);
      expect(child.output()).not.toMatch(/commit failed/);

      // Reopen (WAL replay) through the writer: the lease of the killed one expires first.
      const reader = makeWriter(path, lockKey, { leaseMs: 1_000 });
      const counts = await reader.writer.read(async (conn) => {
        const rows = (
          await conn.runAndReadAll('SELECT count(*)::BIGINT AS n FROM sales')
        ).getRowObjects()[0]!;
        const ledger = (
          await conn.runAndReadAll(
            'SELECT count(*)::BIGINT AS batches, coalesce(sum(stored), 0)::BIGINT AS stored FROM ingest_batches',
          )
        ).getRowObjects()[0]!;
        return { rows: Number(rows.n), batches: Number(ledger.batches), stored: Number(ledger.stored) };
      });
      await reader.close();
      // Every acknowledged commit is there; at most one more (killed after COMMIT, before it said so).
      expect(counts.batches).toBeGreaterThanOrEqual(acknowledged);
      expect(counts.batches).toBeLessThanOrEqual(acknowledged + round + 1);
      expect(counts.rows).toBe(counts.stored);
      expect(counts.rows).toBe(counts.batches * 100);
      acknowledged = counts.batches;
    }
  });
});
