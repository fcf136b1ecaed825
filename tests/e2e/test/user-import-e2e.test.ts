import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listUsers } from '@datasync/db';
import { QUEUES, type UserImportResult } from '@datasync/schemas';
import { tempDir, waitFor } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BAD_ROWS_COUNTS,
  BAD_ROWS_CSV,
  BAD_ROWS_PASSWORDS,
  SEED_CSV,
  SEED_PASSWORDS,
  usersCsv,
} from '../../../apps/sync-worker/test/user-import-fixtures.js';
import { INGEST_KEY, makeStack } from './e2e-helpers.js';

const OPERATOR_KEY = 'operator-secret-0123456789';
const API_KEYS = `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY}`;

let stack: Awaited<ReturnType<typeof makeStack>> | null = null;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await stack?.close();
  stack = null;
  for (const c of cleanups.splice(0)) c();
});

async function upload(csv: string, query = '') {
  const res = await stack!.app.inject({
    method: 'POST',
    url: `/v1/jobs/user-import${query}`,
    headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'text/csv' },
    payload: csv,
  });
  expect(res.statusCode).toBe(202);
  return res.json().jobId as string;
}

const userImportJob = (id: string) => stack!.api.deps.queues.get(QUEUES.userImport)!.getJob(id);

async function finished(id: string, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const job = await userImportJob(id);
      return job && (await job.isCompleted()) ? job : null;
    },
    { timeoutMs, what: `user import ${id} to complete` },
  );
}

/** Every value stored in the test's Redis database, as text. */
async function dumpRedis(url: string): Promise<string> {
  const redis = new Redis(url);
  const out: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') out.push(String(await redis.get(key)));
        else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'list') out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === 'set') out.push(JSON.stringify(await redis.smembers(key)));
        else if (type === 'zset') out.push(JSON.stringify(await redis.zrange(key, 0, -1)));
        else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        out.push(key);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return out.join('\n');
}

describe('user import through the api and a real sync-worker process', () => {
  it('no password from the file appears in logs, Redis, the job result, the report or the database', async () => {
    const logs = tempDir('datasync-user-logs-');
    cleanups.push(logs.cleanup);
    const logFile = join(logs.path, 'worker.log');
    stack = await makeStack({ API_KEYS, LOG_LEVEL: 'trace', LOG_FILE: logFile });
    const worker = await stack.startWorker();

    await finished(await upload(SEED_CSV));
    const id = await upload(BAD_ROWS_CSV);
    const job = await finished(id);
    const result = job.returnvalue as UserImportResult;
    expect(result.counts).toEqual(BAD_ROWS_COUNTS);

    const auth = { authorization: `Bearer ${OPERATOR_KEY}` };
    const status = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth });
    expect(status.json()).toMatchObject({
      state: 'completed',
      progress: 100,
      result: { counts: BAD_ROWS_COUNTS },
    });
    const report = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}/report`, headers: auth });
    expect(report.statusCode).toBe(200);
    expect(report.body).toContain("11,'-1abc,created,");
    expect(report.body).toContain(`10,'=SUM(A1),rejected,"username may contain only a-z, 0-9`);

    const database = await stack.readDb(async (conn) => {
      const dumps: string[] = [];
      for (const table of ['users', 'rejects', 'user_imports']) {
        const rows = (await conn.runAndReadAll(`SELECT * FROM ${table}`)).getRowObjectsJson();
        dumps.push(JSON.stringify(rows));
      }
      return { dump: dumps.join('\n'), users: await listUsers(conn) };
    });
    expect(database.users).toHaveLength(7);
    await waitFor(
      () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('user import committed'),
    );

    const places = {
      'worker output': worker.output(),
      'worker log file': readFileSync(logFile, 'utf8'),
      redis: await dumpRedis(stack.env.REDIS_URL!),
      'job status': status.body,
      report: report.body,
      database: database.dump,
    };
    expect(places['worker output']).toMatch(/"level":10|"level":20/); // trace and debug lines were on
    for (const password of [...SEED_PASSWORDS, ...BAD_ROWS_PASSWORDS]) {
      for (const [place, text] of Object.entries(places)) {
        expect(text.includes(password), `"${password}" found in ${place}`).toBe(false);
      }
    }
    expect(readdirSync(stack.env.IMPORT_DIR!)).toEqual([]); // uploads deleted once imported
  });

  it('a sync-worker SIGKILLed mid-import and redelivered creates every user exactly once', async () => {
    stack = await makeStack({ API_KEYS, WORKER_LOCK_DURATION_MS: '1500' });
    const first = await stack.startWorker();
    const { csv } = usersCsv(600, 'k');
    const id = await upload(csv);
    // Kill it once its first chunk is committed and the next ones are hashing.
    await waitFor(async () => Number((await userImportJob(id))?.progress ?? 0) > 0, {
      timeoutMs: 60_000,
      what: 'the first chunk to commit',
    });
    first.kill('SIGKILL');
    await first.exited();
    const committedBefore = (await stack.readDb((conn) => listUsers(conn))).length;
    expect(committedBefore).toBeGreaterThan(0);
    expect(committedBefore).toBeLessThan(600);

    await stack.startWorker();
    const job = await finished(id, 120_000);
    const result = job.returnvalue as UserImportResult;
    expect(result.counts).toEqual({ created: 600, updated: 0, exists: 0, rejected: 0 });
    expect(result.report.map((r) => r.line)).toEqual(Array.from({ length: 600 }, (_, i) => i + 2));
    const users = await stack.readDb((conn) => listUsers(conn));
    expect(users).toHaveLength(600);
    expect(new Set(users.map((u) => u.username)).size).toBe(600);
    expect(readdirSync(stack.env.IMPORT_DIR!)).toEqual([]);
  });
});
