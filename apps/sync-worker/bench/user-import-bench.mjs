// User import benchmark (against the built dist): the machine's argon2id hashing limit (hashes per
// second with the hash pool on every core, OWASP parameters m=19 MiB t=2 p=1), then a 10,000-user
// file imported end to end through the import function (parse, validate, hash, one transaction per
// chunk under the writer lock, ledger), and the ratio of the two. Hashing is measured before and
// after the import and averaged, so a machine that slows down mid-run is not flattered.
//
//   node apps/sync-worker/bench/user-import-bench.mjs     (BENCH_USERS=10000 BENCH_HASHES=1000)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseWriter, listUsers, WriterLock } from '@datasync/db';
import { startLocalRedis } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { importUsers } from '../dist/user-import/import-users.js';
import { PasswordHasher } from '../dist/user-import/password-hasher.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const HASHES = Number(process.env.BENCH_HASHES ?? 1_000);

async function hashingLimit(hasher, n, tag) {
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => hasher.hash(`limit-${tag}-${i}-password`)));
  return n / ((performance.now() - started) / 1000);
}

function usersFile(dir, n) {
  const lines = ['username,email,role,initial_password'];
  for (let i = 0; i < n; i++)
    lines.push(`bench.user-${i},bench.user-${i}@example.com,user,Bench-pass-${i}-x`);
  const file = join(dir, 'imports', 'users.csv');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

const dir = mkdtempSync(join(tmpdir(), 'datasync-user-bench-'));
const redis = await startLocalRedis({ dir: join(dir, 'redis'), appendfsync: 'always', quiet: true });
const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
const logger = pino({ level: 'silent' });
const writer = new DatabaseWriter({
  path: join(dir, 'bench.duckdb'),
  lock: new WriterLock({ redis: connection, leaseMs: 15_000 }),
  logger,
  idleReleaseMs: 0,
});
const hasher = new PasswordHasher();
try {
  await hashingLimit(hasher, hasher.threads * 4, 'warm'); // start the threads, fault in their memory
  const before = await hashingLimit(hasher, HASHES, 'before');

  mkdirSync(join(dir, 'imports'));
  const file = usersFile(dir, USERS);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const started = performance.now();
  const result = await importUsers(
    { writer, hasher, logger },
    { importId: 'bench@1', jobId: 'bench', file, updateExisting: false },
  );
  const seconds = (performance.now() - started) / 1000;
  lag.disable();
  const stored = (await writer.read((conn) => listUsers(conn))).length;
  if (result.counts.created !== USERS || stored !== USERS) {
    throw new Error(`expected ${USERS} users created, got ${result.counts.created} (stored ${stored})`);
  }

  const after = await hashingLimit(hasher, HASHES, 'after');
  const limit = (before + after) / 2;
  const rate = USERS / seconds;
  const line = (label, value) => console.log(`  ${label.padEnd(34)} ${value}`);
  console.log(`user import benchmark (${hasher.threads} hash threads, argon2id m=19456 KiB t=2 p=1)`);
  line(
    'hashing limit (all cores)',
    `${limit.toFixed(1)} hashes/s (before ${before.toFixed(1)}, after ${after.toFixed(1)}; ${HASHES} hashes each)`,
  );
  line(`import of ${USERS} users`, `${seconds.toFixed(1)} s = ${rate.toFixed(1)} users/s`);
  line('import rate / hashing limit', `${((rate / limit) * 100).toFixed(1)} % (target >= 85 %)`);
  line(
    'event loop delay during import',
    `p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
  );
} finally {
  await hasher.close();
  await writer.close();
  connection.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
