import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import type { MigrationReport } from '@datasync/schemas';
import { tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { migrateLegacyDatabase } from '../src/migrate/migrate-legacy.js';
import { createSmallOldDatabase, PLAINTEXT } from './migrate-fixtures.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup() {
  const dir = tempDir('datasync-migrate-');
  cleanups.push(dir.cleanup);
  const importDir = join(dir.path, 'imports');
  mkdirSync(importDir);
  const old = join(importDir, 'old.duckdb');
  await createSmallOldDatabase(old);
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger,
    idleReleaseMs: 0,
  });
  cleanups.push(
    () => redis.disconnect(),
    () => writer.close(),
  );
  const migrate = (options: { dryRun?: boolean; map?: string[]; file?: string } = {}) =>
    migrateLegacyDatabase(
      { writer, logger, chunkRows: 100 },
      {
        jobId: randomUUID(),
        file: options.file ?? old,
        fileName: 'old.duckdb',
        dryRun: options.dryRun ?? false,
        map: options.map ?? [],
      },
    );
  /** Everything the migration can write, as text: to compare runs and to search for secrets. */
  const snapshot = () =>
    writer.read(async (conn) => {
      const dump = async (sql: string) => JSON.stringify((await conn.runAndReadAll(sql)).getRowObjectsJson());
      return {
        sales: await dump(
          `SELECT source, external_id, date::VARCHAR d, user_id, product_name, quantity, unit_price::VARCHAR u,
                  total_amount::VARCHAR t, region, batch_id FROM sales ORDER BY external_id, batch_id`,
        ),
        rejects: await dump(
          'SELECT source, batch_id, kind, row_number, raw, reasons FROM rejects ORDER BY batch_id, row_number',
        ),
        users: await dump(
          'SELECT username, email, role, password_hash, must_change_password, created_by_job FROM users ORDER BY username',
        ),
        chunks: await dump(
          'SELECT migration_id, table_name, chunk, read, stored, rejected FROM legacy_migration_chunks ORDER BY ALL',
        ),
        runs: await dump('SELECT migration_id, report FROM legacy_migrations'),
      };
    });
  return { writer, migrate, snapshot, old, importDir };
}

const table = (r: MigrationReport, name: 'sales' | 'users') => r.tables.find((t) => t.table === name)!;

describe('datasync migrate: the old database copied through the same rules', () => {
  it('stores good rows, quarantines bad ones with the old row and reasons, keeps known hashes, and reports per month', async () => {
    const { migrate, snapshot, writer } = await setup();
    const report = await migrate();

    expect(table(report, 'sales')).toMatchObject({
      oldTable: 'sales',
      read: 307,
      stored: 301,
      rejected: 6,
      chunks: 4,
    });
    expect(table(report, 'users')).toMatchObject({
      oldTable: 'users',
      read: 11,
      stored: 8,
      rejected: 3,
      existing: 0,
    });
    expect(report.users).toEqual({ keptHashes: 6, mustChangePassword: 2 });

    // March 2024: the generated rows plus the extra ones; the differences name the rejected fields.
    const march = report.months.find((m) => m.month === '2024-03')!;
    expect(march.before.rows - march.after.rows).toBe(march.rejected.rows);
    expect(march.rejected.rows).toBe(5);
    const invalid = report.months.find((m) => m.month === 'invalid date')!;
    expect(invalid).toMatchObject({ before: { rows: 1 }, after: { rows: 0 }, rejected: { rows: 1 } });
    expect(report.differences.find((d) => d.startsWith('2024-03:'))).toMatch(
      /5 rejected \(.*total_amount: 2.*\)/,
    );
    expect(report.differences.join('\n')).not.toMatch(/NOT explained/);
    for (const m of report.months.filter((x) => x.rejected.rows === 0)) {
      expect(m.after).toEqual(m.before);
    }

    const db = await snapshot();
    const rejects = JSON.parse(db.rejects) as {
      batch_id: string;
      kind: string;
      raw: string;
      reasons: string;
    }[];
    expect(rejects.filter((r) => r.kind === 'sale')).toHaveLength(6);
    const mismatch = rejects.find((r) => r.raw.includes('"total_amount":"1500.00"'));
    expect(mismatch?.reasons).toContain('is not within 0.01 of quantity x unit_price');
    expect(rejects.filter((r) => r.reasons.includes('repeats an old row already stored'))).toHaveLength(2);
    expect(rejects.filter((r) => r.kind === 'user').map((r) => JSON.parse(r.reasons)[0].path)).toEqual(
      expect.arrayContaining(['role', 'username', 'email']),
    );

    const users = await writer.read(async (conn) =>
      (
        await conn.runAndReadAll(
          'SELECT username, password_hash, must_change_password FROM users ORDER BY username',
        )
      ).getRowObjectsJson(),
    );
    const byName = Object.fromEntries(users.map((u) => [u.username, u]));
    expect(byName['alice.b']).toMatchObject({ must_change_password: false });
    expect(String(byName['alice.b']!.password_hash)).toMatch(/^\$2b\$10\$/);
    expect(String(byName.user1!.password_hash)).toMatch(/^\$argon2id\$/);
    expect(byName.plain).toMatchObject({ password_hash: '', must_change_password: true });
    expect(byName.sha).toMatchObject({ password_hash: '', must_change_password: true });

    // Never a plaintext password: not in any table, not in the report.
    expect(JSON.stringify(db)).not.toContain(PLAINTEXT);
    expect(JSON.stringify(report)).not.toContain(PLAINTEXT);
    expect(JSON.parse(db.runs)).toHaveLength(1);
  });

  it('a second run of the same file changes nothing and reports the same figures', async () => {
    const { migrate, snapshot } = await setup();
    const first = await migrate();
    const before = await snapshot();
    const second = await migrate();
    const after = await snapshot();
    expect(after.sales).toBe(before.sales);
    expect(after.rejects).toBe(before.rejects);
    expect(after.users).toBe(before.users);
    expect(after.chunks).toBe(before.chunks);
    expect(table(second, 'sales')).toMatchObject({ stored: 301, rejected: 6, chunksSkipped: 4 });
    expect(second.months).toEqual(first.months);
    expect(second.differences).toEqual(first.differences);
  });

  it('a dry run writes nothing and reports what a real run then does', async () => {
    const { migrate, snapshot } = await setup();
    const empty = await snapshot();
    const dry = await migrate({ dryRun: true });
    expect(await snapshot()).toEqual(empty);
    expect(dry.dryRun).toBe(true);
    const real = await migrate();
    expect(real.tables).toEqual(dry.tables);
    expect(real.months).toEqual(dry.months);
    expect(real.differences).toEqual(dry.differences);
    expect(real.users).toEqual(dry.users);
  });

  it('takes other column names through --map, and names a missing column with the option to use', async () => {
    const { migrate, importDir } = await setup();
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const renamed = join(importDir, 'renamed.duckdb');
    copyFileSync(join(importDir, 'old.duckdb'), renamed);
    const instance = await DuckDBInstance.create(renamed);
    const conn = await instance.connect();
    await conn.run(
      'ALTER TABLE sales RENAME COLUMN total_amount TO amount; ALTER TABLE sales RENAME TO orders',
    );
    conn.disconnectSync();
    instance.closeSync();

    await expect(migrate({ file: renamed, map: ['sales=orders'] })).rejects.toThrow(
      'the old table orders has no column total_amount (columns: id, date, user_id, product_name, quantity, unit_price, amount, region, created_at); name the old column with --map sales.total_amount=OLD_COLUMN',
    );
    const report = await migrate({ file: renamed, map: ['sales=orders', 'total_amount=amount'] });
    expect(table(report, 'sales')).toMatchObject({ oldTable: 'orders', read: 307, stored: 301, rejected: 6 });
  });

  it('refuses a datasync database (the live file or a backup) instead of storing its sales twice', async () => {
    const { migrate, writer, importDir } = await setup();
    await migrate();
    const copy = join(importDir, 'own.duckdb');
    await writer.exclusive(async ({ path }) => copyFileSync(path, copy));
    await expect(migrate({ file: copy })).rejects.toThrow(
      "this file is a datasync database, not the old script's",
    );
  });
});
