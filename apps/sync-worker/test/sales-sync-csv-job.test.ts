import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCsvImport } from '@datasync/db';
import { QUEUE_PREFIX, startQueueWorker } from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import { isolatedRedisUrl, waitFor } from '@datasync/testkit';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createSalesSyncProcessor } from '../src/sales-sync/sales-sync-processor.js';
import { cleanups, csvOf, HEADER, logger, row, setupCsvImport } from './csv-test-helpers.js';

/**
 * The CSV import as a job on the real sales-sync queue (BullMQ on the test's Redis), with the
 * attempts the api gives it: a file that cannot be imported fails once, not eight times, and the
 * import's ledger row never stays `running` once no attempt is left.
 */
async function csvJobs(limits = { rows: 1, bytes: 1 << 20 }) {
  const t = setupCsvImport(limits);
  const connection = new Redis(await isolatedRedisUrl(inject('redisUrl')), { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.salesSync, { connection, prefix: QUEUE_PREFIX });
  const events = new QueueEvents(QUEUES.salesSync, {
    connection: connection.duplicate(),
    prefix: QUEUE_PREFIX,
  });
  const processor = createSalesSyncProcessor({
    writer: t.writer,
    logger,
    config: { IMPORT_DIR: t.importDir } as Parameters<typeof createSalesSyncProcessor>[0]['config'],
    csvLimits: limits,
  });
  /** A hook on the real job before the processor runs (to change the file under the import). */
  let before: (job: Job) => void = () => undefined;
  const worker = startQueueWorker(
    QUEUES.salesSync,
    (job) => {
      before(job);
      return processor(job);
    },
    { connection: connection.duplicate(), config: { WORKER_LOCK_DURATION_MS: 30_000 }, logger },
  );
  cleanups.push(
    () => worker.close(),
    () => events.close(),
    () => queue.close(),
    () => connection.quit(),
  );
  await events.waitUntilReady();
  const enqueue = async (file: string, attempts: number) => {
    const job = await queue.add('csv', { source: 'csv', file, force: false }, { attempts, backoff: 50 });
    await waitFor(async () => ['completed', 'failed'].includes(await job.getState()), {
      timeoutMs: 60_000,
      what: 'the csv job to end',
    });
    return (await queue.getJob(job.id!))!;
  };
  return { ...t, enqueue, setBefore: (fn: (job: Job) => void) => (before = fn) };
}

describe('the CSV import as a job', () => {
  it('a file with mixed line ends completes on its first attempt (it failed 8 times with DuckDB text)', async () => {
    const t = await csvJobs({ rows: 250_000, bytes: 32 << 20 });
    const path = t.file('mixed.csv', `${HEADER}\r\n${row(1)}\n${row(2)}\r\n${row(3)}\n`);
    const job = await t.enqueue(path, 8);
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(1);
    expect(job.returnvalue).toMatchObject({ received: 3, accepted: 3, rejected: 0 });
    expect(existsSync(path)).toBe(false);
  });

  it('a chunk that cannot be read fails the job once with a message for the user; the ledger row ends failed', async () => {
    const t = await csvJobs();
    const csv = csvOf([row(1), row(2), row(3), row(4)]);
    const path = t.file('changing.csv', csv);
    t.setBefore((job) => {
      const update = job.updateProgress.bind(job);
      let calls = 0;
      job.updateProgress = async (p) => {
        // After the first chunk commits, the file changes under the import: a CR alone in line 5.
        if (++calls === 1) writeFileSync(path, csv.replace('Product 4', 'Pro\rduct 4'));
        return update(p);
      };
    });
    const job = await t.enqueue(path, 8);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/^lines 5 to 5 of the file could not be read/);
    expect(job.failedReason).not.toMatch(/\/tmp|duckdb|Invalid Input/i);
    const ledger = await t.writer.read((conn) => findCsvImport(conn, job.id!));
    expect(ledger).toMatchObject({ state: 'failed', error: job.failedReason });
    expect(await t.sales()).toHaveLength(0);
    expect(existsSync(path)).toBe(false);
  });

  it('a file found bad when a retry checks it again ends the interrupted import failed, its rows removed', async () => {
    const t = await csvJobs();
    const csv = csvOf([row(1), row(2), row(3)]);
    const path = t.file('replaced.csv', csv);
    t.setBefore((job) => {
      if (job.attemptsMade > 0) return;
      job.updateProgress = async () => {
        // After the first chunk commits: the file is replaced by one without a header, and the
        // attempt dies (not the file's fault: retried).
        writeFileSync(path, `${row(1)}\n${row(2)}\n`);
        throw new Error('the worker lost its connection');
      };
    });
    const job = await t.enqueue(path, 3);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toMatch(/^the header row lacks date/);
    const ledger = await t.writer.read((conn) => findCsvImport(conn, job.id!));
    expect(ledger).toMatchObject({ state: 'failed', error: job.failedReason });
    expect(await t.sales()).toHaveLength(0);
  });

  it('an import whose last attempt fails ends failed in the ledger, not running', async () => {
    const t = await csvJobs();
    // The chunk folder cannot be made: not the file's fault, so retried, until no attempt is left.
    writeFileSync(join(t.importDir, '.chunks'), 'not a folder');
    const path = t.file('fine.csv', csvOf([row(1), row(2)]));
    const job = await t.enqueue(path, 2);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(2);
    const ledger = await t.writer.read((conn) => findCsvImport(conn, job.id!));
    expect(ledger?.state).toBe('failed');
    expect(ledger?.error).toMatch(/failed on its last attempt/);
    expect(job.failedReason).toBe(ledger?.error);
    expect(existsSync(path)).toBe(false);
  });
});
