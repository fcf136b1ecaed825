import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { inspectDatabaseFile, SCHEMA_VERSION } from '@datasync/db';
import { spawnNode } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { listBackups } from '../src/backup/catalog.js';
import { createBackup } from '../src/backup/create-backup.js';
import { BackupCorruptError } from '../src/backup/errors.js';
import { restoreBackup } from '../src/backup/restore.js';
import { verifyBackup } from '../src/backup/verify.js';
import { ingest, makeTestBed, runCleanups, salesRows } from './helpers.js';

afterEach(runCleanups);

const INGEST_LOOP = join(import.meta.dirname, 'fixtures', 'ingest-loop.mjs');

function startIngestLoop(bed: ReturnType<typeof makeTestBed>, prefix: string, rows: number) {
  return spawnNode(INGEST_LOOP, {
    REDIS_URL: bed.redisUrl,
    DB_PATH: bed.dbPath,
    LOCK_KEY: bed.lockKey,
    ROWS: String(rows),
    BATCH_PREFIX: prefix,
  });
}

async function stopIngestLoop(loop: ReturnType<typeof startIngestLoop>) {
  loop.kill('SIGTERM');
  const { code } = await loop.exited();
  expect(code, loop.output()).toBe(0);
  return JSON.parse(loop.output().trim().split('\n').pop()!) as { committed: number; rows: number };
}

describe('backup', () => {
  it('writes a compressed file and a manifest with checksum, counts and versions, listed as verified', async () => {
    const bed = makeTestBed();
    await ingest(bed.deps.writer, 'b-1', 300);
    await ingest(bed.deps.writer, 'b-2', 200);
    const result = await createBackup(bed.deps, { jobId: 'job-1' });
    expect(result.backup.tables).toMatchObject({ sales: 500, ingest_batches: 2 });
    expect(result.backup.schemaVersion).toBe(SCHEMA_VERSION);
    expect(result.backup.duckdbVersion).toMatch(/^v1\./);
    expect(result.backup.verification.state).toBe('verified');
    expect(result.backup.locations).toEqual(['local']);
    expect(result.uploaded).toBe(false);
    const files = readdirSync(bed.backupDir).sort();
    expect(files).toEqual([`${result.backup.name}.duckdb.gz`, `${result.backup.name}.manifest.json`]);
    const manifest = JSON.parse(readFileSync(join(bed.backupDir, files[1]!), 'utf8'));
    expect(manifest).toMatchObject({
      sha256: result.backup.sha256,
      size: result.backup.size,
      jobId: 'job-1',
    });
    const listed = await listBackups(bed.deps);
    expect(listed.backups.map((b) => b.name)).toEqual([result.backup.name]);
    // The live database carries on after the snapshot.
    await ingest(bed.deps.writer, 'b-3', 10);
    expect(await salesRows(bed.deps.writer)).toBe(510);
  });

  it('a backup taken while another process ingests holds every committed batch wholly or not at all', async () => {
    const bed = makeTestBed();
    const rows = 250;
    const loop = startIngestLoop(bed, 'during', rows);
    await loop.waitForOutput(/ingesting/);
    const backups = [];
    for (let i = 0; i < 3; i++) backups.push(await createBackup(bed.deps));
    const report = await stopIngestLoop(loop);
    for (const { backup } of backups) {
      const batches = backup.tables.ingest_batches!;
      expect(batches).toBeGreaterThan(0);
      expect(backup.tables.sales).toBe(batches * rows);
    }
    // Ingest went on between and after the snapshots.
    expect(report.committed).toBeGreaterThan(backups.at(-1)!.backup.tables.ingest_batches!);
  });
});

describe('restore', () => {
  it('backup, more ingest, restore: the counts equal the manifest, and ingest carries on with the restored data', async () => {
    const bed = makeTestBed();
    const rows = 100;
    const before = startIngestLoop(bed, 'before', rows);
    await before.waitForOutput(/ingesting/);
    const { backup } = await createBackup(bed.deps);
    await delay(300);
    const ingestedBefore = await stopIngestLoop(before);
    expect(ingestedBefore.committed).toBeGreaterThan(backup.tables.ingest_batches!);

    const result = await restoreBackup(bed.deps, backup.name);
    expect(result.source).toBe('local');
    const now = await inspectAfterRestore(bed);
    expect(now.tables).toEqual(backup.tables);
    expect(result.previousDatabase && existsSync(result.previousDatabase)).toBe(true);

    // Another process picks the restored file up at its next transaction and keeps writing.
    const after = startIngestLoop(bed, 'after', rows);
    await after.waitForOutput(/ingesting/);
    const ingestedAfter = await stopIngestLoop(after);
    expect(await salesRows(bed.deps.writer)).toBe(backup.tables.sales! + ingestedAfter.committed * rows);
  });

  it('a restore while another process ingests swaps atomically: no batch is ever half there, and every batch it rolls back is listed', async () => {
    const bed = makeTestBed();
    const rows = 200;
    const loop = startIngestLoop(bed, 'around', rows);
    await loop.waitForOutput(/ingesting/);
    const { backup } = await createBackup(bed.deps);
    const restored = await restoreBackup(bed.deps, backup.name);
    expect(restored.tables).toEqual(backup.tables);
    await delay(300);
    const report = await stopIngestLoop(loop);
    const now = await inspectAfterRestore(bed);
    // The restored batches plus those committed after the swap, each whole.
    expect(now.tables.ingest_batches).toBeGreaterThan(backup.tables.ingest_batches!);
    expect(now.tables.ingest_batches).toBeLessThanOrEqual(report.committed);
    expect(now.tables.sales).toBe(now.tables.ingest_batches! * rows);
    // The loop commits around-0, around-1, ... in order: the backup holds the first k, the restore
    // rolled back exactly the next ones, and every other commit is in the database now.
    const k = backup.tables.ingest_batches!;
    expect(restored.rolledBack.length).toBeGreaterThan(0);
    expect(restored.rolledBack.map((b) => b.batchId)).toEqual(
      Array.from({ length: restored.rolledBack.length }, (_, i) => `around-${k + i}`),
    );
    expect(restored.rolledBack.every((b) => b.rows === rows && b.source === 'loop')).toBe(true);
    expect(now.tables.ingest_batches! + restored.rolledBack.length).toBe(report.committed);
  });

  it('a corrupted backup is caught by verify and refused by restore, leaving the current database untouched', async () => {
    const bed = makeTestBed();
    await ingest(bed.deps.writer, 'b-1', 400);
    const { backup } = await createBackup(bed.deps);
    await ingest(bed.deps.writer, 'b-2', 50);
    const data = bed.deps.local.dataPath(backup.name);
    const bytes = readFileSync(data);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(data, bytes);

    await expect(verifyBackup(bed.deps, backup.name)).rejects.toThrow(/sha256 .* does not match/);
    const listed = await listBackups(bed.deps);
    expect(listed.backups[0]?.verification.state).toBe('failed');
    await expect(restoreBackup(bed.deps, backup.name)).rejects.toBeInstanceOf(BackupCorruptError);
    expect(await salesRows(bed.deps.writer)).toBe(450);
    expect(leftoversBeside(bed.dbPath)).toEqual([]);
  });

  it('a truncated backup fails restore cleanly and the database keeps its rows', async () => {
    const bed = makeTestBed();
    await ingest(bed.deps.writer, 'b-1', 400);
    const { backup } = await createBackup(bed.deps);
    truncateSync(bed.deps.local.dataPath(backup.name), Math.floor(backup.size / 2));
    await expect(restoreBackup(bed.deps, backup.name)).rejects.toThrow(/bytes|decompress/);
    await expect(verifyBackup(bed.deps)).rejects.toBeInstanceOf(BackupCorruptError);
    expect(await salesRows(bed.deps.writer)).toBe(400);
    expect(leftoversBeside(bed.dbPath)).toEqual([]);
  });

  it('an unknown name is not found, and a name with a path in it is refused', async () => {
    const bed = makeTestBed();
    await expect(restoreBackup(bed.deps, 'backup-19990101T000000000Z')).rejects.toThrow(/no backup named/);
    await expect(restoreBackup(bed.deps, '../data/dashboard')).rejects.toThrow(/not a backup name/);
  });
});

async function inspectAfterRestore(bed: ReturnType<typeof makeTestBed>) {
  // Read the file the way a fresh process would: closed, under the lock.
  return bed.deps.writer.exclusive(({ path }) => inspectDatabaseFile(path));
}

function leftoversBeside(dbPath: string): string[] {
  return readdirSync(dirname(dbPath)).filter((f) => f.includes('restore-tmp'));
}
