import { inspectDatabaseFile } from '@datasync/db';
import type { BackupJobResult, BackupManifest } from '@datasync/schemas';
import { copyDatabase } from '../database-copy.js';
import {
  compressFile,
  DEFAULT_COMPRESSION_LEVEL,
  materializeArchive,
  removeDatabaseFile,
} from './archive.js';
import { toBackupInfo } from './catalog.js';
import { type BackupDeps, stage, withOpsLock } from './context.js';
import { BackupUploadError } from './errors.js';

/** The backup's consistent copy of the database (see copyDatabase); returns how long the lock was held. */
async function snapshot(deps: BackupDeps, dest: string): Promise<number> {
  return (await copyDatabase(deps.writer, dest, () => stage(deps, 'copying'))).heldMs;
}

/** Compresses the snapshot, reads it back as a database and writes the manifest last. */
async function archiveSnapshot(
  deps: BackupDeps,
  name: string,
  copy: string,
  jobId: string | null,
  createdAt: Date,
): Promise<BackupManifest> {
  const found = await inspectDatabaseFile(copy);
  await stage(deps, 'compressing');
  const archive = deps.local.tempPath(name, 'duckdb.gz');
  const digest = await compressFile(copy, archive, deps.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL);
  await removeDatabaseFile(copy);
  const manifest: BackupManifest = {
    format: 1,
    name,
    createdAt: createdAt.toISOString(),
    file: deps.local.dataPath(name).split(/[\\/]/).pop()!,
    compression: 'gzip',
    ...digest,
    schemaVersion: found.schemaVersion,
    duckdbVersion: found.duckdbVersion,
    tables: found.tables,
    verification: { state: 'unverified', at: null, problems: [] },
    jobId,
  };
  await stage(deps, 'verifying');
  // Read back what was written, as a restore would: the counts must equal the snapshot's.
  await materializeArchive(archive, manifest, deps.local.tempPath(name, 'verify.duckdb'));
  await removeDatabaseFile(deps.local.tempPath(name, 'verify.duckdb'));
  manifest.verification = { state: 'verified', at: new Date().toISOString(), problems: [] };
  await stage(deps, 'publishing');
  await deps.local.publish(manifest, archive, () => stage(deps, 'data-published'));
  return manifest;
}

async function upload(deps: BackupDeps, manifest: BackupManifest): Promise<boolean> {
  if (!deps.s3) return false;
  await stage(deps, 'uploading');
  try {
    await deps.s3.upload(manifest, deps.local.dataPath(manifest.name), {
      afterData: () => stage(deps, 'data-uploaded'),
    });
  } catch (error) {
    throw new BackupUploadError(
      `upload of ${manifest.name} to S3 failed (the local backup is kept): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return true;
}

/**
 * The `backup` job. A retry of a job whose local backup is already complete (it failed in the
 * upload) only uploads it again instead of taking another snapshot.
 */
export async function createBackup(
  deps: BackupDeps,
  options: { jobId?: string | null } = {},
): Promise<BackupJobResult> {
  const started = performance.now();
  const jobId = options.jobId ?? null;
  return withOpsLock(deps, async () => {
    await deps.local.ensureDir();
    const earlier = jobId ? (await deps.local.list()).find((m) => m.jobId === jobId) : undefined;
    if (earlier) {
      const uploaded = await upload(deps, earlier);
      await stage(deps, 'done');
      return {
        backup: toBackupInfo({
          name: earlier.name,
          manifest: earlier,
          local: earlier,
          s3: uploaded ? earlier : null,
        }),
        uploaded,
        resumed: true,
        lockHeldMs: 0,
        durationMs: Math.round(performance.now() - started),
      };
    }
    const leftovers = await deps.local.removeLeftovers();
    if (leftovers.length) deps.logger.info({ leftovers }, 'removed what an interrupted backup left');
    const createdAt = deps.now?.() ?? new Date();
    const name = await deps.local.newName(createdAt);
    const copy = deps.local.tempPath(name, 'duckdb');
    let manifest: BackupManifest;
    let lockHeldMs: number;
    try {
      lockHeldMs = await snapshot(deps, copy);
      manifest = await archiveSnapshot(deps, name, copy, jobId, createdAt);
    } finally {
      await removeDatabaseFile(copy);
      await removeDatabaseFile(deps.local.tempPath(name, 'verify.duckdb'));
      await removeDatabaseFile(deps.local.tempPath(name, 'duckdb.gz'));
    }
    deps.logger.info(
      { backup: name, size: manifest.size, tables: manifest.tables, lockHeldMs: Math.round(lockHeldMs) },
      'backup written and verified',
    );
    const uploaded = await upload(deps, manifest);
    await stage(deps, 'done');
    return {
      backup: toBackupInfo({ name, manifest, local: manifest, s3: uploaded ? manifest : null }),
      uploaded,
      resumed: false,
      lockHeldMs: Math.round(lockHeldMs),
      durationMs: Math.round(performance.now() - started),
    };
  });
}
