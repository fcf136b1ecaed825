import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKUP_NAME, BackupManifest } from '@datasync/schemas';
import type { Logger } from 'pino';
import { syncDirectory, syncFile } from './archive.js';
import { BackupNotFoundError } from './errors.js';

export const DATA_SUFFIX = '.duckdb.gz';
export const MANIFEST_SUFFIX = '.manifest.json';
const TEMP_PREFIX = '.tmp-';

export function assertBackupName(name: string): void {
  if (!BACKUP_NAME.test(name)) throw new BackupNotFoundError(`"${name}" is not a backup name`);
}

/** backup-20261128T030000123Z: sorts by time, safe as a file name and an S3 key. */
export function backupNameAt(date: Date): string {
  return `backup-${date.toISOString().replace(/[-:.]/g, '')}`;
}

/**
 * BACKUP_DIR: `NAME.duckdb.gz` beside `NAME.manifest.json`. Work in progress lives under
 * `.tmp-` names; the data file is renamed into place first and the manifest last, so a backup
 * is listed only once both are complete, whatever moment a crash picks.
 */
export class LocalBackupStore {
  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  dataPath(name: string): string {
    return join(this.dir, `${name}${DATA_SUFFIX}`);
  }

  manifestPath(name: string): string {
    return join(this.dir, `${name}${MANIFEST_SUFFIX}`);
  }

  tempPath(name: string, suffix: string): string {
    return join(this.dir, `${TEMP_PREFIX}${name}.${suffix}`);
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** A fresh timestamped name not used by any file here. */
  async newName(now: Date): Promise<string> {
    const base = backupNameAt(now);
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      if (!existsSync(this.dataPath(name)) && !existsSync(this.manifestPath(name))) return name;
    }
  }

  /** The names in the backup folder; none when it does not exist yet. */
  private async entries(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Complete backups only: a valid manifest and its data file (the manifest is written last). */
  async list(): Promise<BackupManifest[]> {
    const entries = await this.entries();
    const manifests: BackupManifest[] = [];
    for (const entry of entries) {
      if (entry.startsWith('.') || !entry.endsWith(MANIFEST_SUFFIX)) continue;
      const manifest = await this.read(entry.slice(0, -MANIFEST_SUFFIX.length));
      if (manifest) manifests.push(manifest);
    }
    return manifests;
  }

  /** The complete backup of that name, or null. */
  async read(name: string): Promise<BackupManifest | null> {
    assertBackupName(name);
    let text: string;
    try {
      text = await readFile(this.manifestPath(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    let parsed: ReturnType<typeof BackupManifest.safeParse>;
    try {
      parsed = BackupManifest.safeParse(JSON.parse(text));
    } catch {
      parsed = BackupManifest.safeParse(null);
    }
    if (!parsed.success || parsed.data.name !== name) {
      this.logger.warn({ backup: name }, 'unreadable backup manifest: not listed');
      return null;
    }
    const size = await stat(this.dataPath(name)).then(
      (s) => s.size,
      () => -1,
    );
    if (size === -1) {
      this.logger.warn({ backup: name }, 'backup manifest without its data file: not listed');
      return null;
    }
    if (size !== parsed.data.size) {
      // Damaged after it was made: listed as failed, so nobody counts on it and restore says why.
      const problem = `the data file has ${size} bytes, the manifest says ${parsed.data.size}`;
      return {
        ...parsed.data,
        verification: { state: 'failed', at: new Date().toISOString(), problems: [`local: ${problem}`] },
      };
    }
    return parsed.data;
  }

  /** Moves a finished archive into place, then writes its manifest: the backup now exists. */
  async publish(
    manifest: BackupManifest,
    archiveTemp: string,
    afterData?: () => Promise<void>,
  ): Promise<void> {
    await rename(archiveTemp, this.dataPath(manifest.name));
    await syncDirectory(this.dir);
    await afterData?.();
    try {
      await this.writeManifest(manifest);
    } catch (error) {
      // Never a backup without its manifest, and on a full disk its space is needed back at once.
      await rm(this.dataPath(manifest.name), { force: true });
      throw error;
    }
  }

  /** Atomic replace: temp file, fsync, rename, fsync the folder. */
  async writeManifest(manifest: BackupManifest): Promise<void> {
    const temp = this.tempPath(manifest.name, 'manifest.json');
    try {
      await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
      await syncFile(temp);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await rename(temp, this.manifestPath(manifest.name));
    await syncDirectory(this.dir);
  }

  /** Manifest first (it stops being a backup), then the data; checks both are gone. */
  async remove(name: string): Promise<void> {
    assertBackupName(name);
    await rm(this.manifestPath(name), { force: true });
    await rm(this.dataPath(name), { force: true });
    const left = [this.manifestPath(name), this.dataPath(name)].filter((p) => existsSync(p));
    if (left.length) throw new Error(`still present after delete: ${left.join(', ')}`);
  }

  /**
   * What an interrupted backup or restore left: temp files, and data files that never got their
   * manifest. Only called under the backup-ops lock, so nothing here is another job's work.
   */
  async removeLeftovers(): Promise<string[]> {
    const entries = await this.entries();
    const names = new Set(entries);
    const leftovers = entries.filter(
      (entry) =>
        entry.startsWith(TEMP_PREFIX) ||
        (entry.endsWith(DATA_SUFFIX) &&
          !names.has(`${entry.slice(0, -DATA_SUFFIX.length)}${MANIFEST_SUFFIX}`)),
    );
    for (const entry of leftovers) await rm(join(this.dir, entry), { force: true });
    return leftovers;
  }
}
