import { existsSync } from 'node:fs';
import { copyFile, link, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { batchesOnlyIn, type LedgerBatch, prepareRestoredDatabaseFile, SCHEMA_VERSION } from '@datasync/db';
import type { BackupLocation, BackupManifest, RestoreJobResult } from '@datasync/schemas';
import { materializeArchive, removeDatabaseFile, syncDirectory } from './archive.js';
import { type BackupDeps, withOpsLock } from './context.js';
import { withArchive } from './copies.js';
import { BackupCorruptError, BackupNotFoundError, BackupTooNewError } from './errors.js';
import { assertBackupName } from './local-store.js';
import { clearRolledBack } from './rolled-back.js';

interface Copy {
  location: BackupLocation;
  manifest: BackupManifest;
}

async function findCopies(deps: BackupDeps, name: string): Promise<Copy[]> {
  const copies: Copy[] = [];
  const local = await deps.local.read(name);
  if (local) copies.push({ location: 'local', manifest: local });
  const remote = deps.s3 ? await deps.s3.getManifest(name) : null;
  if (remote) copies.push({ location: 's3', manifest: remote });
  return copies;
}

/** Decompresses and checks the first good copy into `dest`, beside the database. */
async function materializeFirstGood(deps: BackupDeps, name: string, copies: Copy[], dest: string) {
  const problems: string[] = [];
  for (const copy of copies) {
    try {
      const found = await withArchive(deps, copy.manifest, copy.location, (archive) =>
        materializeArchive(archive, copy.manifest, dest),
      );
      return { copy, found };
    } catch (error) {
      if (!(error instanceof BackupCorruptError)) throw error;
      problems.push(...error.problems.map((p) => `${copy.location}: ${p}`));
      deps.logger.warn(
        { backup: name, location: copy.location, problems: error.problems },
        'backup copy failed its checks',
      );
    }
  }
  throw new BackupCorruptError(name, [...problems, 'the current database is untouched']);
}

/**
 * Swaps `prepared` in as the database, under the lock with the database closed. The current file
 * is kept aside by a hard link (a copy where links are not possible), and the new one arrives by
 * rename(2) over it: at every instant DATABASE_PATH is the old database or the new one. Returns
 * the batches the swap rolls back, read from both ledgers under the same lock, so no commit can
 * slip in between the comparison and the swap.
 */
async function swapIn(deps: BackupDeps, prepared: string, aside: string) {
  let heldMs = 0;
  let previous: string | null = null;
  let rolledBack: LedgerBatch[] = [];
  await deps.writer.exclusive(async ({ path }) => {
    const started = performance.now();
    if (existsSync(path)) {
      rolledBack = await batchesOnlyIn(path, prepared);
      await link(path, aside).catch(() =>
        // A partial copy (full disk) is removed: the database stays as it was, nothing left behind.
        copyFile(path, aside).catch(async (error: unknown) => {
          await rm(aside, { force: true });
          throw error;
        }),
      );
      previous = aside;
    }
    // A log left by a failed checkpoint belongs to the old file; replayed on the new one it would corrupt it.
    if (existsSync(`${path}.wal`)) await rename(`${path}.wal`, `${aside}.wal`);
    await rename(prepared, path);
    await syncDirectory(dirname(path));
    heldMs = performance.now() - started;
  });
  return { heldMs, previous: previous as string | null, rolledBack };
}

/**
 * The `restore` job: local copy first, S3 when there is no good local one. Everything that can
 * fail (download, checksum, decompression, opening, counts) happens before the lock is taken,
 * so a bad backup leaves the current database untouched. Every worker's next transaction reopens
 * the file and carries on with the restored data.
 */
export async function restoreBackup(deps: BackupDeps, name: string): Promise<RestoreJobResult> {
  const started = performance.now();
  assertBackupName(name);
  return withOpsLock(deps, async () => {
    const copies = await findCopies(deps, name);
    if (copies.length === 0)
      throw new BackupNotFoundError(`there is no backup named ${name}, locally or in S3`);
    const newest = Math.max(...copies.map((c) => c.manifest.schemaVersion));
    if (newest > SCHEMA_VERSION) {
      throw new BackupTooNewError(
        `backup ${name} has schema version ${newest}; this version of datasync knows up to ${SCHEMA_VERSION}`,
      );
    }
    const dbPath = deps.writer.path;
    const prepared = `${dbPath}.restore-tmp`;
    await removeDatabaseFile(prepared);
    try {
      const { copy, found } = await materializeFirstGood(deps, name, copies, prepared);
      await prepareRestoredDatabaseFile(prepared);
      const stamp = (deps.now?.() ?? new Date()).toISOString().replace(/[-:.]/g, '');
      const swapped = await swapIn(deps, prepared, `${dbPath}.before-restore-${stamp}`);
      const { heldMs, previous } = swapped;
      const rolledBack = await clearRolledBack(deps.redis, swapped.rolledBack, deps.logger);
      deps.logger.info(
        {
          backup: name,
          source: copy.location,
          previous,
          tables: found.tables,
          lockHeldMs: Math.round(heldMs),
          rolledBack: rolledBack.length,
        },
        'database restored',
      );
      if (rolledBack.length > 0) {
        deps.logger.warn(
          {
            backup: name,
            batches: rolledBack.map((b) => ({ batchId: b.batchId, source: b.source, rows: b.rows })),
          },
          'the restore rolled back batches committed after the backup: their senders must send them again',
        );
      }
      return {
        name,
        source: copy.location,
        tables: found.tables,
        schemaVersion: found.schemaVersion,
        previousDatabase: previous,
        rolledBack,
        lockHeldMs: Math.round(heldMs),
        durationMs: Math.round(performance.now() - started),
      };
    } finally {
      await removeDatabaseFile(prepared);
    }
  });
}
