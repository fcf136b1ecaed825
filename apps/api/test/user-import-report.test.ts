import { existsSync, readFileSync, statSync } from 'node:fs';
import { QUEUE_PREFIX } from '@datasync/runtime';
import { QUEUES, type UserImportResult } from '@datasync/schemas';
import { waitFor } from '@datasync/testkit';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, makeApi, OPERATOR_KEY } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
let worker: Worker | null = null;
let connection: Redis;
beforeAll(async () => {
  api = await makeApi({ JOB_ATTEMPTS: '1' });
  connection = new Redis(api.redisUrl, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await worker?.close();
  connection.disconnect();
  await api.close();
});

const result = (report: UserImportResult['report']): UserImportResult => ({
  jobId: 'x',
  updateExisting: false,
  rows: report.length,
  counts: { created: 1, updated: 0, exists: 1, rejected: 2 },
  report,
  durationMs: 5,
  finishedAt: new Date().toISOString(),
});

/** A real BullMQ worker on the user-import queue standing in for the sync-worker's processor. */
function startWorker(processor: (job: Job) => Promise<unknown>) {
  worker = new Worker(QUEUES.userImport, processor, { connection, prefix: QUEUE_PREFIX });
}

const get = (id: string, key = OPERATOR_KEY) =>
  api.app.inject({ method: 'GET', url: `/v1/jobs/${id}/report`, headers: auth(key) });

const upload = (csv: string, query = '') =>
  api.app.inject({
    method: 'POST',
    url: `/v1/jobs/user-import${query}`,
    headers: { ...auth(OPERATOR_KEY), 'content-type': 'text/csv' },
    payload: csv,
  });

describe('GET /v1/jobs/:id/report', () => {
  it('is 409 while the import waits, then serves the finished report as CSV with formula cells defused', async () => {
    const accepted = await upload(
      'username,email,role,initial_password\nalice,a@x.io,user,Secret-Pass-1\n',
      '?updateExisting=true',
    );
    expect(accepted.statusCode).toBe(202);
    const { jobId } = accepted.json();
    const job = await api.deps.queues.get(QUEUES.userImport)!.getJob(jobId);
    // The job carries the path of the 0600 upload, never its contents.
    expect(job?.data).toEqual({ file: expect.any(String), updateExisting: true });
    expect(JSON.stringify(job?.data)).not.toContain('Secret-Pass-1');
    expect(statSync(job!.data.file).mode & 0o777).toBe(0o600);
    expect(readFileSync(job!.data.file, 'utf8')).toContain('Secret-Pass-1');

    const waiting = await get(jobId);
    expect(waiting.statusCode).toBe(409);
    expect(waiting.json().detail).toMatch(/ready when it completes/);

    startWorker(async () =>
      result([
        { line: 2, username: 'alice', status: 'created', reason: null },
        { line: 3, username: '-1abc', status: 'exists', reason: 'already exists; left unchanged' },
        {
          line: 4,
          username: '=SUM(A1)',
          status: 'rejected',
          reason: "username: may contain only a-z, 0-9, '.'",
        },
        { line: 5, username: '@cmd "x"', status: 'rejected', reason: 'email: must be a valid address' },
      ]),
    );
    await waitFor(async () => (await job!.getState()) === 'completed' || (await job!.isCompleted()));
    const res = await get(jobId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="user-import-${jobId}-report.csv"`);
    expect(res.body.split('\r\n')).toEqual([
      'line,username,status,reason',
      '2,alice,created,',
      "3,'-1abc,exists,already exists; left unchanged",
      `4,'=SUM(A1),rejected,"username: may contain only a-z, 0-9, '.'"`,
      `5,"'@cmd ""x""",rejected,email: must be a valid address`,
      '',
    ]);
    await worker?.close();
    worker = null;
  });

  it('is 409 naming the reason for a failed import, 404 for an unknown job or another job type, 401 without a key', async () => {
    startWorker(async () => {
      throw new UnrecoverableError('the header row lacks email');
    });
    const failed = (await upload('username,role\nbob,user\n')).json().jobId;
    const job = await api.deps.queues.get(QUEUES.userImport)!.getJob(failed);
    await waitFor(async () => job!.isFailed());
    const res = await get(failed);
    expect(res.statusCode).toBe(409);
    expect(res.json().detail).toMatch(/failed, so it has no report: the header row lacks email/);

    expect((await get('no-such-job')).statusCode).toBe(404);
    const other = await api.deps.queues.get(QUEUES.health)!.add('health-check', {}, { jobId: 'health-1' });
    expect((await get(other.id!)).statusCode).toBe(404);
    expect((await get(failed, 'wrong-key-0123456789')).statusCode).toBe(401);
    expect(existsSync(job!.data.file)).toBe(true); // only the sync-worker deletes uploads
  });
});
