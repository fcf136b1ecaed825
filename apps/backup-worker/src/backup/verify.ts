import type { BackupVerification, TableCounts, VerifyBackupJobResult } from '@datasync/schemas';
import { materializeArchive, removeDatabaseFile } from './archive.js';
import { type CatalogEntry, loadCatalog } from './catalog.js';
import { type BackupDeps, withOpsLock } from './context.js';
import { withArchive } from './copies.js';
import { BackupCorruptError, BackupNotFoundError } from './errors.js';
import { assertBackupName } from './local-store.js';

type CopyCheck = VerifyBackupJobResult['copies'][number];

/** A full restore test of one copy into a temp file: checksum, decompression, opening, counts. */
async function restoreTest(
  deps: BackupDeps,
  entry: CatalogEntry,
  location: 'local' | 's3',
): Promise<{ check: CopyCheck; tables: TableCounts | null }> {
  const manifest = entry[location]!;
  const temp = deps.local.tempPath(entry.name, 'verify.duckdb');
  try {
    const found = await withArchive(deps, manifest, location, (archive) =>
      materializeArchive(archive, manifest, temp),
    );
    return { check: { location, ok: true, problems: [] }, tables: found.tables };
  } catch (error) {
    if (!(error instanceof BackupCorruptError)) throw error;
    return { check: { location, ok: false, problems: error.problems }, tables: null };
  } finally {
    await removeDatabaseFile(temp);
  }
}

/** The S3 copy of a backup whose local copy passed: the same bytes are enough. */
async function compareRemoteBytes(deps: BackupDeps, entry: CatalogEntry): Promise<CopyCheck> {
  const manifest = entry.s3!;
  const remote = await deps.s3!.digestObject(deps.s3!.dataKey(entry.name));
  const problems: string[] = [];
  if (remote.size !== manifest.size)
    problems.push(`S3 holds ${remote.size} bytes, the manifest says ${manifest.size}`);
  if (remote.sha256 !== manifest.sha256)
    problems.push(`sha256 ${remote.sha256} does not match the manifest's`);
  return { location: 's3', ok: problems.length === 0, problems };
}

async function recordVerification(deps: BackupDeps, entry: CatalogEntry, verification: BackupVerification) {
  if (entry.local) await deps.local.writeManifest({ ...entry.local, verification });
  if (entry.s3 && deps.s3) {
    await deps.s3.putManifest({ ...entry.s3, verification }).catch((error: Error) => {
      deps.logger.warn({ backup: entry.name, err: error.message }, 'could not record the verification in S3');
    });
  }
}

/**
 * The `verify-backup` job (the monthly restore test): restores the named backup, or the newest,
 * into a temp file and checks it; the S3 copy too. The outcome is written into the manifests (so
 * retention knows the newest verified backup); a failed check fails the job with its reasons.
 */
export async function verifyBackup(deps: BackupDeps, name?: string): Promise<VerifyBackupJobResult> {
  const started = performance.now();
  if (name) assertBackupName(name);
  return withOpsLock(deps, async () => {
    const catalog = await loadCatalog(deps, { strict: true });
    const entry = name ? catalog.entries.find((e) => e.name === name) : catalog.entries[0];
    if (!entry)
      throw new BackupNotFoundError(
        name ? `there is no backup named ${name}` : 'there is no backup to verify',
      );
    const copies: CopyCheck[] = [];
    let tables: TableCounts | null = null;
    if (entry.local) {
      const local = await restoreTest(deps, entry, 'local');
      copies.push(local.check);
      tables = local.tables;
    }
    if (entry.s3) {
      if (tables) copies.push(await compareRemoteBytes(deps, entry));
      else {
        const remote = await restoreTest(deps, entry, 's3');
        copies.push(remote.check);
        tables = remote.tables;
      }
    }
    const ok = copies.every((c) => c.ok);
    const problems = copies.flatMap((c) => c.problems.map((p) => `${c.location}: ${p}`));
    await recordVerification(deps, entry, {
      state: ok ? 'verified' : 'failed',
      at: new Date().toISOString(),
      problems,
    });
    deps.logger[ok ? 'info' : 'error'](
      { backup: entry.name, copies },
      ok ? 'backup verified' : 'backup failed verification',
    );
    if (!ok) throw new BackupCorruptError(entry.name, problems);
    return { name: entry.name, ok, copies, tables, durationMs: Math.round(performance.now() - started) };
  });
}
