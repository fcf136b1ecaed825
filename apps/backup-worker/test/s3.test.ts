import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { freePort } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { listBackups } from '../src/backup/catalog.js';
import { createBackup } from '../src/backup/create-backup.js';
import { BackupUploadError, RetentionError } from '../src/backup/errors.js';
import { restoreBackup } from '../src/backup/restore.js';
import { cleanupBackups } from '../src/backup/retention.js';
import { verifyBackup } from '../src/backup/verify.js';
import { ingest, makeTestBed, runCleanups, s3Store, salesRows, startRefusingS3, startS3 } from './helpers.js';

afterEach(runCleanups);

const DAY = 86_400_000;

describe('backups in S3', () => {
  it('uploads with its checksum checked, lists both copies, and restores from S3 when the local copy is gone', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    await ingest(bed.deps.writer, 'b-1', 300);
    const { backup, uploaded } = await createBackup(bed.deps);
    expect(uploaded).toBe(true);
    expect(backup.locations).toEqual(['local', 's3']);
    const store = bed.deps.s3!;
    const head = await store.client.send(
      new HeadObjectCommand({ Bucket: store.bucket, Key: store.dataKey(backup.name) }),
    );
    expect(head.Metadata?.sha256).toBe(backup.sha256);
    expect((await listBackups(bed.deps)).backups[0]?.locations).toEqual(['local', 's3']);

    await ingest(bed.deps.writer, 'b-2', 25);
    rmSync(bed.deps.local.dataPath(backup.name));
    rmSync(bed.deps.local.manifestPath(backup.name));
    const listed = await listBackups(bed.deps);
    expect(listed.backups.map((b) => [b.name, b.locations])).toEqual([[backup.name, ['s3']]]);
    const restored = await restoreBackup(bed.deps, backup.name);
    expect(restored.source).toBe('s3');
    expect(await salesRows(bed.deps.writer)).toBe(300);
    expect((await verifyBackup(bed.deps, backup.name)).copies).toEqual([
      { location: 's3', ok: true, problems: [] },
    ]);
  });

  it('an upload failure fails the job with the reason and keeps the local backup; the retry only uploads', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const bed = makeTestBed({ s3: s3Store(down) });
    await ingest(bed.deps.writer, 'b-1', 100);
    const failure = await createBackup(bed.deps, { jobId: 'job-7' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BackupUploadError);
    expect((failure as Error).message).toMatch(
      /upload of backup-.* to S3 failed \(the local backup is kept\): .+/,
    );
    const local = await listBackups(bed.deps);
    expect(local.backups.map((b) => b.locations)).toEqual([['local']]);
    expect(local.s3.error).toBeTruthy();

    const s3 = await startS3();
    const retried = await createBackup({ ...bed.deps, s3: s3Store(s3.endpoint) }, { jobId: 'job-7' });
    expect(retried).toMatchObject({ resumed: true, uploaded: true });
    expect(retried.backup.name).toBe(local.backups[0]?.name);
  });

  it('a store that fails the checksum read-back fails the upload (no manifest is written there)', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    await ingest(bed.deps.writer, 'b-1', 100);
    const store = bed.deps.s3!;
    // The store keeps other bytes than it was sent: simulated by overwriting the object after upload.
    const failure = await createBackup({
      ...bed.deps,
      onStage: async (stage) => {
        if (stage !== 'data-uploaded') return;
        const name = (await bed.deps.local.list())[0]!.name;
        await store.client.send(
          new PutObjectCommand({ Bucket: store.bucket, Key: store.dataKey(name), Body: 'not the backup' }),
        );
      },
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BackupUploadError);
    expect((await listBackups(bed.deps)).backups.map((b) => b.locations)).toEqual([['local']]);
  });
});

describe('retention', () => {
  async function threeBackups(bed: ReturnType<typeof makeTestBed>) {
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      await ingest(bed.deps.writer, `b-${i}`, 10);
      names.push((await createBackup(bed.deps)).backup.name);
    }
    return names;
  }

  it('deletes backups past the retention locally and in S3, never the newest verified one', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    const [oldest, middle, newest] = await threeBackups(bed);
    expect((await cleanupBackups(bed.deps, { days: 30 })).deleted).toEqual([]);

    // The newest fails verification: the middle one is now the newest verified.
    const data = bed.deps.local.dataPath(newest!);
    writeFileSync(data, Buffer.alloc(statSync(data).size, 1));
    await expect(verifyBackup(bed.deps)).rejects.toThrow(/sha256/);
    const later = new Date(Date.now() + 40 * DAY);
    const result = await cleanupBackups(bed.deps, { days: 30, now: later });
    expect(result.protected).toBe(middle);
    expect(result.deleted.map((d) => d.name).sort()).toEqual([oldest, newest].sort());
    expect(result.deleted.map((d) => d.locations)).toEqual([
      ['local', 's3'],
      ['local', 's3'],
    ]);
    const left = await listBackups(bed.deps);
    expect(left.backups.map((b) => [b.name, b.locations])).toEqual([[middle, ['local', 's3']]]);
    expect(existsSync(bed.deps.local.dataPath(oldest!))).toBe(false);
  });

  it('a store that answers DeleteObjects with per-key errors fails the cleanup, naming what is left', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    const [oldest] = await threeBackups(bed);
    const refusing = { ...bed.deps, s3: s3Store(await startRefusingS3(s3.port, 'errors')) };
    const failure = await cleanupBackups(refusing, { days: 30, now: new Date(Date.now() + 40 * DAY) }).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(RetentionError);
    expect((failure as Error).message).toMatch(new RegExp(`${oldest} \\(s3\\): AccessDenied`));
    // Still listed in S3: a failed delete never hides a backup.
    const listed = await listBackups(bed.deps);
    expect(listed.backups.find((b) => b.name === oldest)?.locations).toEqual(['s3']);
  });

  it('a store that claims Deleted without deleting fails the cleanup', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    await threeBackups(bed);
    const lying = { ...bed.deps, s3: s3Store(await startRefusingS3(s3.port, 'lie')) };
    await expect(cleanupBackups(lying, { days: 30, now: new Date(Date.now() + 40 * DAY) })).rejects.toThrow(
      /reported deleted but still listed/,
    );
  });

  it('aborts without deleting anything when S3 cannot be listed', async () => {
    const s3 = await startS3();
    const bed = makeTestBed({ s3: s3Store(s3.endpoint) });
    await threeBackups(bed);
    const unreachable = { ...bed.deps, s3: s3Store(`http://127.0.0.1:${await freePort()}`) };
    await expect(
      cleanupBackups(unreachable, { days: 30, now: new Date(Date.now() + 40 * DAY) }),
    ).rejects.toThrow(/cleanup aborted, nothing deleted/);
    expect((await listBackups(bed.deps)).backups).toHaveLength(3);
  });
});
