import { join } from 'node:path';
import { type LocalRedis, startLocalRedis, tempDir, waitFor } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { makeStack, sales, sumOf } from './e2e-helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Far below the 30 s the shutdown used to hang for (until its forced-exit timer), and generous
 * for a loaded 2-core machine: the behaviour checked is "does not hang", not a speed.
 */
const PROMPT_EXIT_MS = 12_000;

/** Opens the file from this process (not the worker's) and compares the ledger with the rows. */
async function ledgerAndRows(path: string) {
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    const reader = await conn.runAndReadAll(`
      SELECT count(*)::INTEGER AS batches,
             coalesce(sum(stored), 0)::INTEGER AS ledger_rows,
             (SELECT count(*) FROM sales)::INTEGER AS rows,
             (SELECT count(*) FROM sales WHERE batch_id NOT IN (SELECT batch_id FROM ingest_batches))::INTEGER AS orphan_rows
      FROM ingest_batches`);
    const row = reader.getRowObjects()[0]!;
    return {
      batches: Number(row.batches),
      ledgerRows: Number(row.ledger_rows),
      rows: Number(row.rows),
      orphanRows: Number(row.orphan_rows),
    };
  } finally {
    conn.disconnectSync();
    instance.closeSync();
  }
}

/** The ingest stack on a redis-server of its own, which the test may kill and start again. */
async function stackOnOwnRedis() {
  const dir = tempDir('datasync-shutdown-');
  cleanups.push(dir.cleanup);
  const redisDir = join(dir.path, 'redis');
  let redis: LocalRedis = await startLocalRedis({ dir: redisDir, appendfsync: 'always' });
  cleanups.push(() => redis.stop());
  const stack = await makeStack({ REDIS_URL: redis.url, WRITER_LOCK_IDLE_RELEASE_MS: '60000' });
  cleanups.push(stack.close);
  return {
    stack,
    killRedis: async () => {
      redis.process.kill('SIGKILL');
      await new Promise((r) => redis.process.once('exit', r));
    },
    restartRedis: async () => {
      redis = await startLocalRedis({ dir: redisDir, port: redis.port, appendfsync: 'always' });
    },
  };
}

describe('stopping the sync-worker while Redis is gone', () => {
  it('SIGTERM with Redis unreachable exits 0 promptly, the DuckDB file closed, every batch whole or absent, and none lost', async () => {
    const { stack, killRedis, restartRedis } = await stackOnOwnRedis();
    const worker = await stack.startWorker();
    const accepted = Array.from({ length: 40 }, (_, i) => sales(2_000, i * 2_000));
    for (const [i, batch] of accepted.entries()) {
      expect((await stack.post(batch, { 'idempotency-key': `k-${i}` })).statusCode).toBe(202);
    }
    // Redis dies while the worker is busy committing: some batches done, others in flight.
    await waitFor(async () => (await stack.queue.getJobCounts('completed')).completed! > 0, {
      what: 'a first batch committed',
    });
    await killRedis();
    worker.kill('SIGTERM');
    const exit = await Promise.race([
      worker.exited(),
      new Promise<null>((r) => setTimeout(() => r(null), PROMPT_EXIT_MS)),
    ]);
    expect(
      exit,
      `still running ${PROMPT_EXIT_MS} ms after SIGTERM:\n${worker.output().slice(-3000)}`,
    ).not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(worker.output()).toMatch(/Redis is unreachable: closing only what does not need it/);
    expect(worker.output()).toMatch(/"reason":"shutdown","msg":"writer lock released"/);

    // The file opens in another process; the ledger and the rows agree: no half batch.
    const found = await ledgerAndRows(stack.env.DATABASE_PATH!);
    expect(found.batches).toBeGreaterThan(0);
    expect(found.orphanRows).toBe(0);
    expect(found.rows).toBe(found.ledgerRows);

    // Redis back (AOF): what was not committed is redelivered and committed once.
    await restartRedis();
    const second = await stack.startWorker();
    await stack.drained();
    second.kill('SIGTERM');
    expect((await second.exited()).code).toBe(0);
    const totals = await stack.totals();
    expect(totals.rows).toBe(40 * 2_000);
    expect(totals.totalAmount).toBe(sumOf(accepted.flat()));
  });

  it('a second signal forces the exit (code 130) while the first shutdown still waits for Redis', async () => {
    const { stack, killRedis } = await stackOnOwnRedis();
    const worker = await stack.startWorker();
    await killRedis();
    worker.kill('SIGTERM');
    await worker.waitForOutput(/"msg":"shutting down"/);
    // Within the grace the shutdown gives Redis to come back (2 s): the first shutdown is still waiting.
    worker.kill('SIGINT');
    const exit = await worker.exited();
    expect(exit.code).toBe(130);
    expect(worker.output()).toMatch(/second signal: forcing exit/);
  });
});
