import { rm } from 'node:fs/promises';
import type { BackupLocation, BackupManifest } from '@datasync/schemas';
import type { BackupDeps } from './context.js';
import { BackupCorruptError } from './errors.js';

/**
 * Runs `fn` with a local path to the compressed file of one copy of a backup: the file itself
 * for the local copy, a download under a temp name (removed afterwards) for the S3 copy.
 */
export async function withArchive<T>(
  deps: BackupDeps,
  manifest: BackupManifest,
  location: BackupLocation,
  fn: (archive: string) => Promise<T>,
): Promise<T> {
  if (location === 'local') return fn(deps.local.dataPath(manifest.name));
  if (!deps.s3) throw new Error('S3 is not configured');
  await deps.local.ensureDir();
  const temp = deps.local.tempPath(manifest.name, 'download.duckdb.gz');
  try {
    try {
      await deps.s3.download(manifest.name, temp);
    } catch (error) {
      if ((error as { name?: string }).name !== 'NoSuchKey') throw error;
      throw new BackupCorruptError(manifest.name, ['its data object is missing in S3']);
    }
    return await fn(temp);
  } finally {
    await rm(temp, { force: true });
  }
}
