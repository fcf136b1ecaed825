import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createSampleOldDatabase, OLD_SCRIPT_PLAINTEXT } from '@datasync/db';
import { type MigrationReport, QUEUES } from '@datasync/schemas';
import { spawnNode } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, makeStack } from './e2e-helpers.js';

const CLI = join(import.meta.dirname, '..', '..', '..', 'apps', 'cli', 'dist', 'main.js');
const OPERATOR_KEY = 'operator-secret-0123456789';
let stack: Awaited<ReturnType<typeof makeStack>> | null = null;
afterEach(async () => {
  await stack?.close();
  stack = null;
});

/** What the migration wrote, counted. */
const written = () =>
  stack!.readDb(async (conn) => {
    const r = await conn.runAndReadAll(
      `SELECT (SELECT count(*) FROM sales)::INTEGER AS sales,
              (SELECT count(DISTINCT external_id) FROM sales)::INTEGER AS ids,
              (SELECT count(*) FROM rejects)::INTEGER AS rejects,
              (SELECT count(*) FROM users)::INTEGER AS users,
              (SELECT count(*) FROM legacy_migration_chunks)::INTEGER AS chunks,
              (SELECT count(*) FROM legacy_migrations)::INTEGER AS runs,
              (SELECT coalesce(sum(total_amount), 0)::VARCHAR FROM sales) AS revenue`,
    );
    return r.getRowObjectsJson()[0]!;
  });

describe('datasync migrate --from OLD.duckdb', () => {
  it('the CLI uploads the old file, a sync-worker migrates it, and the report is printed; a dry run first writes nothing', async () => {
    stack = await makeStack({ API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}` });
    await stack.startWorker();
    const base = await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const old = join(stack.env.IMPORT_DIR!, '..', 'old.duckdb');
    await createSampleOldDatabase(old);
    const datasync = async (args: string[]) => {
      const p = spawnNode(CLI, { DATASYNC_URL: base, DATASYNC_API_KEY: OPERATOR_KEY }, args);
      const { code } = await p.exited();
      return { code, out: p.output() };
    };

    const dry = await datasync(['migrate', '--from', old, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('(DRY RUN: nothing was written)');
    expect(dry.out).toMatch(/^sales\s+sales\s+307\s+301\s+6\s+0/m);
    expect((await written()).sales).toBe(0);
    expect(await written()).toMatchObject({ sales: 0, rejects: 0, users: 0, chunks: 0, runs: 0 });

    const real = await datasync(['migrate', '--from', old]);
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/^sales\s+sales\s+307\s+301\s+6\s+0/m);
    expect(real.out).toMatch(/^users\s+users\s+11\s+8\s+3\s+0/m);
    expect(real.out).toContain('users: 6 kept their password hash, 2 must set a password');
    expect(real.out).toMatch(/^ {2}2024-03: \d+ old rows .* 5 rejected \(/m);
    expect(real.out).toContain('rejected rows: GET /v1/rejects?batchId=migrate-');
    expect(await written()).toMatchObject({ sales: 301, ids: 301, rejects: 9, users: 8, runs: 1 });

    const again = await datasync(['migrate', '--from', old, '--json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.out.slice(again.out.indexOf('{'))).result as MigrationReport;
    expect(report.tables.find((t) => t.table === 'sales')).toMatchObject({ stored: 301, chunksSkipped: 1 });
    expect(await written()).toMatchObject({ sales: 301, ids: 301, rejects: 9, users: 8, runs: 2 });

    // Nothing of the plaintext password: not in any output, not in any job's data or result.
    const queue = stack.api.deps.queues.get(QUEUES.salesSync)!;
    const jobs = await queue.getJobs(['completed', 'failed']);
    expect(jobs).toHaveLength(3);
    for (const text of [
      dry.out,
      real.out,
      again.out,
      JSON.stringify(jobs.map((j) => [j.data, j.returnvalue])),
    ]) {
      expect(text).not.toContain(OLD_SCRIPT_PLAINTEXT);
    }
    // The uploads are deleted once migrated.
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(stack.env.IMPORT_DIR!).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('a sync-worker SIGKILLed in the middle of a migration: the job resumes on another and the result is the same as one run', async () => {
    stack = await makeStack({
      API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`,
      CSV_CHUNK_ROWS: '20000',
    });
    const old = join(stack.env.IMPORT_DIR!, '..', 'old.duckdb');
    await createSampleOldDatabase(old, 200_000);
    const { readFileSync } = await import('node:fs');
    const first = await stack.startWorker();
    const accepted = await stack.app.inject({
      method: 'POST',
      url: '/v1/migrations?name=old.duckdb',
      headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/octet-stream' },
      payload: readFileSync(old),
    });
    expect(accepted.statusCode).toBe(202);
    const queue = stack.api.deps.queues.get(QUEUES.salesSync)!;
    const job = await queue.getJob(accepted.json().jobId);
    let progress = 0;
    while (progress === 0) {
      await delay(5);
      progress = Number((await queue.getJob(job!.id!))?.progress ?? 0);
    }
    first.kill('SIGKILL'); // after its first chunk committed, most likely inside a later one
    await first.exited();
    expect(progress).toBeLessThan(100);

    await stack.startWorker();
    const report = (await job!.waitUntilFinished(
      stack.api.deps.queueEvents(QUEUES.salesSync),
      120_000,
    )) as MigrationReport;
    expect(report.tables.find((t) => t.table === 'sales')).toMatchObject({
      read: 200_007,
      stored: 200_001,
      rejected: 6,
      chunks: 11,
    });
    expect(report.tables.find((t) => t.table === 'sales')!.chunksSkipped).toBeGreaterThan(0);
    expect(report.tables.find((t) => t.table === 'users')).toMatchObject({ stored: 8, rejected: 3 });
    expect(report.differences.join('\n')).not.toContain('NOT explained');
    expect(await written()).toMatchObject({
      sales: 200_001,
      ids: 200_001,
      rejects: 9,
      users: 8,
      chunks: 12,
      runs: 1,
    });
  });
});
