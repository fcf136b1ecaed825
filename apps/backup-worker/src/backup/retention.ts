import type { BackupCleanupJobResult, BackupLocation } from '@datasync/schemas';
import { type CatalogEntry, loadCatalog } from './catalog.js';
import { type BackupDeps, withOpsLock } from './context.js';
import { RetentionError } from './errors.js';
import { DATA_SUFFIX, MANIFEST_SUFFIX } from './local-store.js';

const DAY_MS = 86_400_000;

interface Failure {
  name: string;
  location: BackupLocation;
  reason: string;
}

/** Manifests go before data everywhere, so a half-done delete never leaves a listed backup without its data. */
async function deleteBackups(
  deps: BackupDeps,
  due: CatalogEntry[],
  s3Orphans: string[],
): Promise<{ deleted: Map<string, BackupLocation[]>; orphansDeleted: string[]; failures: Failure[] }> {
  const deleted = new Map<string, BackupLocation[]>();
  const failures: Failure[] = [];
  const note = (name: string, where: BackupLocation) =>
    deleted.set(name, [...(deleted.get(name) ?? []), where]);
  for (const entry of due.filter((e) => e.local)) {
    try {
      await deps.local.remove(entry.name);
      note(entry.name, 'local');
    } catch (error) {
      failures.push({ name: entry.name, location: 'local', reason: (error as Error).message });
    }
  }
  const inS3 = due.filter((e) => e.s3);
  let orphansDeleted: string[] = [];
  if (deps.s3 && (inS3.length || s3Orphans.length)) {
    const s3 = deps.s3;
    const refusedManifests = await s3.deleteKeys(inS3.map((e) => s3.manifestKey(e.name)));
    const dataKeys = inS3
      .filter((e) => !refusedManifests.has(s3.manifestKey(e.name)))
      .map((e) => s3.dataKey(e.name));
    const refusedData = await s3.deleteKeys([...dataKeys, ...s3Orphans]);
    for (const entry of inS3) {
      const reason =
        refusedManifests.get(s3.manifestKey(entry.name)) ?? refusedData.get(s3.dataKey(entry.name));
      if (reason) failures.push({ name: entry.name, location: 's3', reason });
      else note(entry.name, 's3');
    }
    orphansDeleted = s3Orphans.filter((key) => !refusedData.has(key));
    for (const key of s3Orphans.filter((k) => refusedData.has(k))) {
      failures.push({ name: key, location: 's3', reason: refusedData.get(key)! });
    }
  }
  return { deleted, orphansDeleted, failures };
}

/**
 * The `backup-cleanup` job: deletes backups created before now - days, locally and in S3, never
 * the newest verified one. Any listing error aborts before a single delete; a delete that the
 * store refuses (or claims and does not do) fails the job, naming what is left.
 */
export async function cleanupBackups(
  deps: BackupDeps,
  options: { days?: number; now?: Date } = {},
): Promise<BackupCleanupJobResult> {
  const days = options.days ?? deps.retentionDays;
  const now = options.now ?? deps.now?.() ?? new Date();
  const cutoff = now.getTime() - days * DAY_MS;
  return withOpsLock(deps, async () => {
    let catalog: Awaited<ReturnType<typeof loadCatalog>>;
    try {
      catalog = await loadCatalog(deps, { strict: true });
    } catch (error) {
      throw new RetentionError(
        `cleanup aborted, nothing deleted: backups could not be listed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const leftovers = await deps.local.removeLeftovers();
    if (leftovers.length) deps.logger.info({ leftovers }, 'removed what an interrupted backup left');
    const newestVerified = catalog.entries.find((e) => e.manifest.verification.state === 'verified') ?? null;
    const due = catalog.entries.filter(
      (e) => Date.parse(e.manifest.createdAt) < cutoff && e.name !== newestVerified?.name,
    );
    // Data objects of uploads that died before their manifest, once they are past the retention.
    const listed = new Set(catalog.s3?.manifests.map((m) => m.name) ?? []);
    const s3Orphans = [...(catalog.s3?.objects ?? [])]
      .filter(([key, o]) => key.endsWith(DATA_SUFFIX) && o.lastModified.getTime() < cutoff)
      .filter(([key]) => {
        const name = key.slice(deps.s3!.prefix.length, -DATA_SUFFIX.length);
        return !listed.has(name) && !catalog.s3!.objects.has(`${deps.s3!.prefix}${name}${MANIFEST_SUFFIX}`);
      })
      .map(([key]) => key);
    const { deleted, orphansDeleted, failures } = await deleteBackups(deps, due, s3Orphans);
    const result: BackupCleanupJobResult = {
      days,
      cutoff: new Date(cutoff).toISOString(),
      deleted: [...deleted].map(([name, locations]) => ({ name, locations })),
      kept: catalog.entries.length - due.length,
      protected: newestVerified?.name ?? null,
      orphansDeleted,
    };
    deps.logger.info({ ...result, failures: failures.length }, 'backup cleanup done');
    if (failures.length) {
      const list = failures.map((f) => `${f.name} (${f.location}): ${f.reason}`).join('; ');
      throw new RetentionError(
        `cleanup deleted ${result.deleted.length} backup(s) but these deletes did not happen: ${list}`,
      );
    }
    return result;
  });
}
