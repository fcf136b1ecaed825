import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseWriter, WriterLock } from '@datasync/db';
import { tempDir } from '@datasync/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { EXPORT_MAX_AGE_MS, exportsDirOf, sweepExports, writeExport } from '../src/exports/export-files.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir('datasync-export-files-');
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const writer = new DatabaseWriter({
    path: join(dir.path, 'db.duckdb'),
    lock: new WriterLock({ redis, key: `test:lock:${randomUUID()}`, leaseMs: 2_000 }),
    logger: pino({ level: 'silent' }),
    idleReleaseMs: 0,
  });
  cleanups.push(dir.cleanup, async () => {
    await writer.close();
    redis.disconnect();
  });
  return { writer, exportsDir: exportsDirOf(join(dir.path, 'imports')) };
}

describe('export files in IMPORT_DIR/.exports', () => {
  it('an export-table job writes its file in the exports folder and says its rows and bytes', async () => {
    const { writer, exportsDir } = setup();
    const result = await writeExport(writer, exportsDir, { table: 'users', format: 'csv' });
    expect(result.file).toMatch(/^users-[0-9a-f-]{36}\.csv$/);
    expect(existsSync(join(exportsDir, result.file))).toBe(true);
    expect(result.rows).toBe(0);
    expect(result.bytes).toBeGreaterThan(0);
    expect(readdirSync(exportsDir)).toHaveLength(1);
  });

  it('a failed export leaves no file behind', async () => {
    const { writer, exportsDir } = setup();
    await writer.transaction(async ({ conn }) => {
      await conn.run('DROP TABLE rejects');
    });
    await expect(writeExport(writer, exportsDir, { table: 'rejects', format: 'parquet' })).rejects.toThrow(
      /rejects/,
    );
    expect(readdirSync(exportsDir)).toEqual([]);
  });

  it('the sweep removes export files nobody fetched once they are old, and keeps the fresh ones', async () => {
    const { exportsDir } = setup();
    expect(await sweepExports(exportsDir)).toBe(0); // no folder yet
    mkdirSync(exportsDir, { recursive: true });
    const old = join(exportsDir, 'sales-old.csv');
    const fresh = join(exportsDir, 'sales-fresh.csv');
    writeFileSync(old, 'x');
    writeFileSync(fresh, 'x');
    const longAgo = (Date.now() - EXPORT_MAX_AGE_MS - 60_000) / 1000;
    utimesSync(old, longAgo, longAgo);
    expect(await sweepExports(exportsDir)).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });
});
