import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnNode } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { listBackups } from '../src/backup/catalog.js';
import type { BackupStage } from '../src/backup/context.js';
import { createBackup } from '../src/backup/create-backup.js';
import { restoreBackup } from '../src/backup/restore.js';
import { cleanupBackups } from '../src/backup/retention.js';
import { verifyBackup } from '../src/backup/verify.js';
import { BUCKET, ingest, makeTestBed, runCleanups, s3Store, salesRows, startS3 } from './helpers.js';

afterEach(runCleanups);

const RUN_BACKUP = join(import.meta.dirname, 'fixtures', 'run-backup.mjs');
const DAY = 86_400_000;

// copying: inside the writer lock; data-published: data file in place, manifest not yet;
// data-uploaded: in S3 without its manifest.
const STAGES: BackupStage[] = [
  'copying',
  'compressing',
  'verifying',
  'data-published',
  'uploading',
  'data-uploaded',
];

describe('a backup-worker killed mid-backup', () => {
  it('leaves nothing that listing, verify, restore or cleanup would take for a good backup; the next backup succeeds', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    await ingest(bed.deps.writer, 'first', 120);
    const good = (await createBackup(bed.deps)).backup;
    await ingest(bed.deps.writer, 'second', 80);
    await bed.deps.writer.exclusive(async () => undefined);

    for (const stage of STAGES) {
      const child = spawnNode(RUN_BACKUP, {
        REDIS_URL: bed.redisUrl,
        DB_PATH: bed.dbPath,
        BACKUP_DIR: bed.backupDir,
        LOCK_KEY: bed.lockKey,
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: BUCKET,
        PAUSE_AT: stage,
      });
      await child.waitForOutput(new RegExp(`stage:${stage}`));
      child.kill('SIGKILL');
      await child.exited();

      // Every listed backup is whole: it verifies, in every location it is listed in.
      const listed = await listBackups(bed.deps);
      for (const backup of listed.backups) {
        const verified = await verifyBackup(bed.deps, backup.name);
        expect(verified.ok, `${stage}: ${backup.name}`).toBe(true);
        expect(verified.copies.map((c) => c.location)).toEqual(backup.locations);
      }
      if (stage === 'data-published') {
        // A data file published without its manifest is no backup: restore does not find it.
        const names = new Set(listed.backups.map((b) => b.name));
        const unlisted = readdirSync(bed.backupDir)
          .filter((f) => f.endsWith('.duckdb.gz'))
          .map((f) => f.slice(0, -'.duckdb.gz'.length))
          .filter((n) => !names.has(n));
        expect(unlisted).toHaveLength(1);
        await expect(restoreBackup(bed.deps, unlisted[0]!)).rejects.toThrow(/no backup named/);
      }
      // Killed during the upload, the local backup was already complete (it is listed, local
      // only: its S3 copy, if any, has no manifest); killed before, there is no new backup.
      const interrupted = listed.backups.filter((b) => b.name !== good.name);
      expect(
        interrupted.map((b) => b.locations),
        stage,
      ).toEqual(
        Array.from({ length: Math.max(0, STAGES.indexOf(stage) - STAGES.indexOf('uploading') + 1) }, () => [
          'local',
        ]),
      );
    }

    // The next backup succeeds (the writer lock of the process killed while copying has expired)
    // and clears what the killed ones left.
    const next = await createBackup(bed.deps);
    expect(next.backup.tables.sales).toBe(200);
    expect(next.uploaded).toBe(true);
    expect(readdirSync(bed.backupDir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    expect(readdirSync(bed.backupDir).filter((f) => f.endsWith('.duckdb.gz'))).toHaveLength(4);

    // Cleanup past the retention keeps the newest verified backup and clears the S3 orphan.
    const cleanup = await cleanupBackups(bed.deps, { days: 30, now: new Date(Date.now() + 40 * DAY) });
    expect(cleanup.protected).toBe(next.backup.name);
    expect(cleanup.orphansDeleted).toHaveLength(1);
    const restored = await restoreBackup(bed.deps, next.backup.name);
    expect(restored.tables.sales).toBe(200);
    expect(await salesRows(bed.deps.writer)).toBe(200);
    // Six processes started and killed one after another: minutes on a loaded 2-core machine.
  }, 180_000);
});
