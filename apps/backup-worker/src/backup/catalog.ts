import type { BackupInfo, BackupLocation, BackupManifest, ListBackupsResult } from '@datasync/schemas';
import type { BackupDeps } from './context.js';
import type { S3Listing } from './s3-store.js';

/** One backup and its copies; `manifest` is the copy whose verification is the most recent. */
export interface CatalogEntry {
  name: string;
  manifest: BackupManifest;
  local: BackupManifest | null;
  s3: BackupManifest | null;
}

export interface Catalog {
  /** Newest first. */
  entries: CatalogEntry[];
  s3: S3Listing | null;
  s3Error: string | null;
}

const verifiedAt = (m: BackupManifest | null) => (m?.verification.at ? Date.parse(m.verification.at) : -1);

/**
 * Every complete backup, local and in S3. With `strict`, an S3 listing error throws (retention
 * and verification must not act on a partial view); without it the error is reported beside the
 * local backups (the listing an operator asks for still answers).
 */
export async function loadCatalog(deps: BackupDeps, options: { strict: boolean }): Promise<Catalog> {
  const local = await deps.local.list();
  let s3: S3Listing | null = null;
  let s3Error: string | null = null;
  if (deps.s3) {
    try {
      s3 = await deps.s3.list();
    } catch (error) {
      if (options.strict) throw error;
      s3Error = (error as Error).message;
      deps.logger.warn({ err: s3Error }, 'S3 backups could not be listed');
    }
  }
  const byName = new Map<string, CatalogEntry>();
  const add = (manifest: BackupManifest, where: BackupLocation) => {
    const entry = byName.get(manifest.name) ?? { name: manifest.name, manifest, local: null, s3: null };
    entry[where] = manifest;
    if (verifiedAt(manifest) > verifiedAt(entry.manifest)) entry.manifest = manifest;
    byName.set(manifest.name, entry);
  };
  for (const manifest of local) add(manifest, 'local');
  for (const manifest of s3?.manifests ?? []) add(manifest, 's3');
  const entries = [...byName.values()].sort(
    (a, b) =>
      Date.parse(b.manifest.createdAt) - Date.parse(a.manifest.createdAt) || (a.name < b.name ? 1 : -1),
  );
  return { entries, s3, s3Error };
}

export function locationsOf(entry: CatalogEntry): BackupLocation[] {
  return [...(entry.local ? (['local'] as const) : []), ...(entry.s3 ? (['s3'] as const) : [])];
}

export function toBackupInfo(entry: CatalogEntry): BackupInfo {
  const m = entry.manifest;
  return {
    name: m.name,
    createdAt: m.createdAt,
    size: m.size,
    sha256: m.sha256,
    verification: m.verification,
    locations: locationsOf(entry),
    schemaVersion: m.schemaVersion,
    duckdbVersion: m.duckdbVersion,
    tables: m.tables,
  };
}

/** The `list-backups` job: what `GET /v1/backups` shows. */
export async function listBackups(deps: BackupDeps): Promise<ListBackupsResult> {
  const catalog = await loadCatalog(deps, { strict: false });
  return {
    backups: catalog.entries.map(toBackupInfo),
    s3: { configured: deps.s3 !== null, error: catalog.s3Error },
  };
}
