import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseWriter, listUsers, WriterLock } from '@datasync/db';
import { QUEUE_PREFIX } from '@datasync/runtime';
import { QUEUES, type UserImportResult } from '@datasync/schemas';
import { isolatedRedisUrl, tempDir, waitFor } from '@datasync/testkit';
import { verify } from '@node-rs/argon2';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ARGON2ID_PREFIX } from '../src/user-import/argon2-options.js';
import { importUsers } from '../src/user-import/import-users.js';
import { PasswordHasher } from '../src/user-import/password-hasher.js';
import { createUserImportProcessor } from '../src/user-import/user-import-processor.js';
import {
  BAD_ROWS_COUNTS,
  BAD_ROWS_CSV,
  BAD_ROWS_PASSWORDS,
  BAD_ROWS_REPORT,
  CREATED_PASSWORDS,
  SEED_CSV,
  usersCsv,
} from './user-import-fixtures.js';

// Worker threads load JavaScript: the hash worker comes from the build (turbo builds it first).
const HASH_WORKER = new URL('../dist/user-import/hash-worker.js', import.meta.url);
const logger = pino({ level: 'silent' });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: { chunkSize?: number; lockDuration?: number } = {}) {
  const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
  const dir = tempDir('datasync-users-');
  const importDir = join(dir.path, 'imports');
  mkdirSync(importDir, { mode: 0o700 });
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis: connection.duplicate(), key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger,
    idleReleaseMs: 0,
  });
  const hasher = new PasswordHasher({ workerUrl: HASH_WORKER });
  const processor = createUserImportProcessor({
    writer,
    hasher,
    logger,
    config: { IMPORT_DIR: importDir },
    ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
  });
  const queue = new Queue(QUEUES.userImport, { connection, prefix: QUEUE_PREFIX });
  const lockDuration = options.lockDuration ?? 30_000;
  const worker = new Worker(QUEUES.userImport, processor, {
    connection,
    prefix: QUEUE_PREFIX,
    lockDuration,
    stalledInterval: lockDuration,
  });
  let stalls = 0;
  worker.on('stalled', () => stalls++);
  cleanups.push(
    dir.cleanup,
    () => connection.disconnect(),
    () => writer.close(),
    () => hasher.close(),
  );
  cleanups.push(
    () => queue.close(),
    () => worker.close(),
  );

  const save = (csv: string) => {
    const file = join(importDir, `${randomUUID()}.csv`);
    writeFileSync(file, csv, { mode: 0o600 });
    return file;
  };
  /** Enqueues an import of `file` and waits until it completed or failed for good. */
  const run = async (file: string, updateExisting = false, attempts = 3): Promise<Job> => {
    const added = await queue.add('user-import', { file, updateExisting }, { attempts, backoff: 50 });
    await waitFor(async () => ['completed', 'failed'].includes(await added.getState()), {
      timeoutMs: 60_000,
      what: 'the user import to finish',
    });
    return (await queue.getJob(added.id!))!;
  };
  const importCsv = async (csv: string, updateExisting = false) => {
    const job = await run(save(csv), updateExisting);
    expect(job.failedReason).toBeUndefined();
    return job.returnvalue as UserImportResult;
  };
  const hashOf = (username: string) =>
    writer.read(async (conn) => {
      const rows = (
        await conn.runAndReadAll('SELECT password_hash FROM users WHERE username = $1', [username])
      ).getRowObjects();
      return String(rows[0]?.password_hash);
    });
  return { writer, hasher, importDir, save, run, importCsv, hashOf, stalls: () => stalls };
}

describe('bulk user import', () => {
  it('imports the valid rows of a file with every kind of bad row and reports each row by line', async () => {
    const t = await setup({ chunkSize: 3 });
    expect((await t.importCsv(SEED_CSV)).counts).toEqual({ created: 2, updated: 0, exists: 0, rejected: 0 });
    const file = t.save(BAD_ROWS_CSV);
    const job = await t.run(file);
    const result = job.returnvalue as UserImportResult;
    expect(result.counts).toEqual(BAD_ROWS_COUNTS);
    expect(result.rows).toBe(19);
    expect(result.report).toEqual(BAD_ROWS_REPORT);
    expect(job.progress).toBe(100);
    expect(existsSync(file)).toBe(false); // the plaintext file is gone once committed

    const users = await t.writer.read((conn) => listUsers(conn));
    expect(users.map((u) => [u.username, u.email, u.role])).toEqual([
      ['-1abc', '+1@example.com', 'admin'],
      ['alice', 'alice@example.com', 'user'],
      ['bob', 'bob@example.com', 'manager'],
      ['ivan', 'ivan@example.com', 'user'],
      ['judy', 'judy@example.com', 'admin'],
      ['oscar', 'oscar@example.com', 'user'], // left alone: not updated by the second file
      ['peggy', 'peggy@example.com', 'user'],
    ]);
    expect(users.every((u) => u.mustChangePassword)).toBe(true);
    for (const [username, password] of Object.entries(CREATED_PASSWORDS)) {
      const hash = await t.hashOf(username);
      expect(hash.startsWith(ARGON2ID_PREFIX)).toBe(true);
      expect(await verify(hash, password)).toBe(true);
    }

    const rejects = await t.writer.read(async (conn) =>
      (
        await conn.runAndReadAll(
          `SELECT source, batch_id, row_number, raw, reasons FROM rejects WHERE kind = 'user' ORDER BY row_number`,
        )
      ).getRowObjects(),
    );
    const rejectedLines = BAD_ROWS_REPORT.filter((r) => r.status === 'rejected').map((r) => r.line);
    expect(rejects.map((r) => Number(r.row_number))).toEqual(rejectedLines);
    expect(new Set(rejects.map((r) => `${r.source}/${r.batch_id}`))).toEqual(
      new Set([`user-import/${job.id}`]),
    );
    expect(JSON.parse(String(rejects[0]?.raw))).toEqual({
      username: 'ALICE',
      email: 'alice2@example.com',
      role: 'user',
      initial_password: '[redacted]',
    });
    const stored = JSON.stringify(rejects);
    for (const password of BAD_ROWS_PASSWORDS) expect(stored).not.toContain(password);
  });

  it('reports an existing user as exists and leaves it, and updates it (new password to change) when asked', async () => {
    const t = await setup();
    await t.importCsv('username,email,role,initial_password\nwalter,walter@example.com,user,First-pass-01\n');
    const before = await t.hashOf('walter');

    const again = 'username,email,role,initial_password\nWALTER,walter@new.example,admin,Second-pass-02\n';
    const kept = await t.importCsv(again);
    expect(kept.report).toEqual([
      { line: 2, username: 'walter', status: 'exists', reason: 'already exists; left unchanged' },
    ]);
    expect(await t.hashOf('walter')).toBe(before);

    const updated = await t.importCsv(again, true);
    expect(updated.counts).toEqual({ created: 0, updated: 1, exists: 0, rejected: 0 });
    const [walter] = await t.writer.read((conn) => listUsers(conn));
    expect(walter).toMatchObject({ email: 'walter@new.example', role: 'admin', mustChangePassword: true });
    expect(await verify(await t.hashOf('walter'), 'Second-pass-02')).toBe(true);
  });

  it('two deliveries of the same import running at once create each user once and agree on the result', async () => {
    const t = await setup();
    const { csv } = usersCsv(40, 'twin');
    const file = t.save(csv);
    const request = { importId: 'job-7@1', jobId: '7', file, updateExisting: false };
    const deps = { writer: t.writer, hasher: t.hasher, logger, chunkSize: 10 };
    const [a, b] = await Promise.all([importUsers(deps, request), importUsers(deps, request)]);
    expect(a.counts).toEqual({ created: 40, updated: 0, exists: 0, rejected: 0 });
    expect(b.counts).toEqual(a.counts);
    const again = await importUsers(deps, request); // a redelivery after the commit
    expect(again).toEqual(a);
    const users = await t.writer.read((conn) => listUsers(conn));
    expect(users).toHaveLength(40);
    expect(new Set(users.map((u) => u.username)).size).toBe(40);
  });

  it('keeps the job lock through an import longer than the lock duration: hashing never blocks the event loop', async () => {
    const t = await setup({ chunkSize: 50, lockDuration: 1_000 });
    const { csv, passwords } = usersCsv(300, 'long');
    const started = Date.now();
    const job = await t.run(t.save(csv));
    expect(Date.now() - started).toBeGreaterThan(1_000); // otherwise this test proves nothing
    expect(job.returnvalue.counts.created).toBe(300);
    expect(job.attemptsMade).toBe(1);
    expect(t.stalls()).toBe(0);
    expect(await verify(await t.hashOf('long-299'), passwords[299]!)).toBe(true);
  });

  it('fails at once, without retries and without quoting the file, when it is not CSV or lacks a column', async () => {
    const t = await setup();
    const broken = t.save(
      'username,email,role,initial_password\nzed,zed@example.com,user,"Unclosed-Secret-1\n',
    );
    const job = await t.run(broken);
    expect(job.failedReason).toBe('the file is not valid CSV (CSV_QUOTE_NOT_CLOSED) near line 2');
    expect(job.attemptsMade).toBe(1);
    expect(JSON.stringify(job.stacktrace)).not.toContain('Unclosed-Secret-1');
    expect(existsSync(broken)).toBe(false);

    const noPassword = await t.run(t.save('username,email,role\nzed,zed@example.com,user\n'));
    expect(noPassword.failedReason).toBe(
      'the header row lacks initial_password: expected the columns username,email,role,initial_password',
    );
    expect(readdirSync(t.importDir)).toEqual([]);
  });

  it('refuses a job naming a file outside IMPORT_DIR, and leaves that file alone', async () => {
    const t = await setup();
    const outside = join(t.importDir, '..', 'elsewhere.csv');
    writeFileSync(outside, SEED_CSV);
    const job = await t.run(outside);
    expect(job.failedReason).toBe('the import file must be under IMPORT_DIR');
    expect(job.attemptsMade).toBe(1);
    expect(existsSync(outside)).toBe(true);
    expect(await t.writer.read((conn) => listUsers(conn))).toEqual([]);
  });
});
