import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { commitSalesBatches, DatabaseWriter, type SalesBatch, salesTotals, WriterLock } from '@datasync/db';
import '@datasync/testkit';
import { parseEnvConfig } from '@datasync/schemas';
import { tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import S3rver from 's3rver';
import { inject } from 'vitest';
import type { BackupDeps } from '../src/backup/context.js';
import { LocalBackupStore } from '../src/backup/local-store.js';
import { createS3Client, S3BackupStore } from '../src/backup/s3-store.js';

export const quietLogger = pino({ level: 'silent' });
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const BUCKET = 'datasync-backups';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
export const onCleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
export async function runCleanups() {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** A real S3 protocol endpoint on loopback, with an empty bucket, in a temp folder. */
export async function startS3() {
  const dir = tempDir('datasync-s3rver-');
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir.path,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  onCleanup(dir.cleanup);
  onCleanup(() => server.close());
  return { endpoint: `http://127.0.0.1:${port}`, port };
}

export function s3Store(endpoint: string, prefix = 'datasync/') {
  const config = parseEnvConfig({
    AWS_S3_BACKUP_BUCKET: BUCKET,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_S3_FORCE_PATH_STYLE: 'true',
    AWS_S3_PREFIX: prefix,
  });
  const store = new S3BackupStore(createS3Client(config, S3_CREDENTIALS), { bucket: BUCKET, prefix });
  onCleanup(() => store.close());
  return store;
}

/**
 * An S3 endpoint in front of s3rver that forwards everything but DeleteObjects, which it answers
 * 200 the way a store that refuses deletes does: with per-key Errors, or (`lie`) claiming Deleted.
 */
export async function startRefusingS3(target: number, mode: 'errors' | 'lie') {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && /[?&]delete/.test(req.url ?? '')) {
        const keys = [...body.toString().matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
        const items = keys.map((k) =>
          mode === 'errors'
            ? `<Error><Key>${k}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
            : `<Deleted><Key>${k}</Key></Deleted>`,
        );
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><DeleteResult>${items.join('')}</DeleteResult>`);
        return;
      }
      const forward = http.request(
        { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  onCleanup(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

export interface TestBed {
  dir: string;
  dbPath: string;
  backupDir: string;
  lockKey: string;
  redisUrl: string;
  deps: BackupDeps;
}

/** Backup deps on a temp folder with a lock key of its own; timers shrunk for tests. */
export function makeTestBed(options: { s3?: S3BackupStore | null; dir?: string } = {}): TestBed {
  let dir = options.dir;
  if (!dir) {
    const temp = tempDir('datasync-backup-test-');
    onCleanup(temp.cleanup);
    dir = temp.path;
  }
  const redisUrl = inject('redisUrl');
  const lockKey = `test:lock:${randomUUID()}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const lock = new WriterLock({ redis, key: lockKey, leaseMs: 1_500 });
  const dbPath = join(dir, 'data', 'dashboard.duckdb');
  const writer = new DatabaseWriter({ path: dbPath, lock, logger: quietLogger, idleReleaseMs: 200 });
  const opsLock = new WriterLock({ redis, key: `${lockKey}:backup-ops`, leaseMs: 1_500 });
  onCleanup(() => redis.disconnect());
  onCleanup(() => writer.close());
  const backupDir = join(dir, 'backups');
  return {
    dir,
    dbPath,
    backupDir,
    lockKey,
    redisUrl,
    deps: {
      writer,
      local: new LocalBackupStore(backupDir, quietLogger),
      s3: options.s3 ?? null,
      logger: quietLogger,
      retentionDays: 30,
      opsLock,
    },
  };
}

export function salesBatch(batchId: string, rows: number): SalesBatch {
  return {
    batchId,
    source: 'test',
    idempotencyKeyHash: null,
    bodyHash: batchId,
    received: rows,
    sales: Array.from({ length: rows }, (_, i) => ({
      id: null,
      date: '2026-01-15',
      user_id: (i % 100) + 1,
      product_name: `Product ${i % 50}`,
      quantity: 1,
      unit_price: '2.50',
      total_amount: '2.50',
      region: 'EU',
    })),
    rejects: [],
  };
}

export async function ingest(writer: DatabaseWriter, batchId: string, rows: number) {
  await writer.transaction((tx) => commitSalesBatches(tx, [salesBatch(batchId, rows)]));
}

export async function salesRows(writer: DatabaseWriter): Promise<number> {
  return (await writer.read((conn) => salesTotals(conn))).rows;
}
