import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { type DatabaseFileInspection, inspectDatabaseFile } from '@datasync/db';
import type { BackupManifest } from '@datasync/schemas';
import { BackupCorruptError, isStorageFailure } from './errors.js';

/**
 * The compressed backup file: written with its checksums computed on the way (no second read),
 * and turned back into a database file with every check a backup must pass before anyone trusts it.
 */

export interface ArchiveDigest {
  /** Compressed bytes and their sha256. */
  size: number;
  sha256: string;
  /** Database bytes (uncompressed) and their sha256. */
  databaseSize: number;
  databaseSha256: string;
}

/** gzip level 1: DuckDB blocks are already compressed; higher levels cost time for a few percent. */
export const DEFAULT_COMPRESSION_LEVEL = 1;

class DigestTap extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (e?: Error | null, c?: Buffer) => void,
  ) {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Writes `path` and its bytes to disk (fsync) before it is renamed into place. */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A directory's entries (renames) reach the disk too. */
export async function syncDirectory(path: string): Promise<void> {
  await syncFile(path).catch(() => undefined);
}

export async function compressFile(source: string, dest: string, level: number): Promise<ArchiveDigest> {
  const raw = new DigestTap();
  const compressed = new DigestTap();
  await pipeline(
    createReadStream(source, { highWaterMark: 1 << 20 }),
    raw,
    createGzip({ level }),
    compressed,
    createWriteStream(dest),
  );
  await syncFile(dest);
  return {
    size: compressed.bytes,
    sha256: compressed.digest(),
    databaseSize: raw.bytes,
    databaseSha256: raw.digest(),
  };
}

/** Size and sha256 of a file, streamed. */
export async function digestFile(path: string): Promise<{ size: number; sha256: string }> {
  const tap = new DigestTap();
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), tap, async (source) => {
    for await (const _ of source);
  });
  return { size: tap.bytes, sha256: tap.digest() };
}

/** What a decompressed backup must hold, from its manifest. */
export type ArchiveExpectation = Pick<
  BackupManifest,
  'name' | 'size' | 'sha256' | 'databaseSize' | 'databaseSha256' | 'tables' | 'schemaVersion'
>;

export function compareCounts(
  expected: Pick<ArchiveExpectation, 'tables' | 'schemaVersion'>,
  found: DatabaseFileInspection,
): string[] {
  const problems: string[] = [];
  const names = new Set([...Object.keys(expected.tables), ...Object.keys(found.tables)]);
  for (const table of [...names].sort()) {
    const want = expected.tables[table];
    const got = found.tables[table];
    if (want !== got) problems.push(`table ${table}: ${got ?? 'missing'} rows, expected ${want ?? 'none'}`);
  }
  if (expected.schemaVersion !== found.schemaVersion) {
    problems.push(`schema version ${found.schemaVersion}, expected ${expected.schemaVersion}`);
  }
  return problems;
}

/**
 * Decompresses `archive` to `dest` and checks it: compressed size and sha256, database sha256,
 * that DuckDB opens it, and the row count of every table. On any problem `dest` is removed and
 * BackupCorruptError lists what was wrong.
 */
export async function materializeArchive(
  archive: string,
  expected: ArchiveExpectation,
  dest: string,
): Promise<DatabaseFileInspection> {
  const problems: string[] = [];
  const compressed = new DigestTap();
  const raw = new DigestTap();
  let inspection: DatabaseFileInspection | null = null;
  const out = createWriteStream(dest);
  try {
    await pipeline(
      createReadStream(archive, { highWaterMark: 1 << 20 }),
      compressed,
      createGunzip(),
      raw,
      out,
    );
    if (compressed.bytes !== expected.size) {
      problems.push(`the file has ${compressed.bytes} bytes, the manifest says ${expected.size}`);
    }
    const sha256 = compressed.digest();
    if (sha256 !== expected.sha256) problems.push(`sha256 ${sha256} does not match the manifest's`);
    const databaseSha256 = raw.digest();
    if (databaseSha256 !== expected.databaseSha256 || raw.bytes !== expected.databaseSize) {
      problems.push('the decompressed database differs from the one backed up');
    }
  } catch (error) {
    // An early failure can reject before the file is even open: wait until it is closed, or its
    // late open would create the file again after it is removed below.
    // (Not events.once: the stream also emits the pipeline's error, which would reject it.)
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    // A full or read-only disk says nothing about the backup: not "corrupt", and not kept.
    if (isStorageFailure(error)) {
      await removeDatabaseFile(dest);
      throw error;
    }
    // Say first whether the bytes differ from the manifest's: that is what an operator acts on.
    const whole = await digestFile(archive).catch(() => null);
    if (whole && whole.size !== expected.size) {
      problems.push(`the file has ${whole.size} bytes, the manifest says ${expected.size}`);
    }
    if (whole && whole.sha256 !== expected.sha256) {
      problems.push(`sha256 ${whole.sha256} does not match the manifest's`);
    }
    problems.push(`cannot be read or decompressed: ${(error as Error).message}`);
  }
  // Only bytes that match the manifest are handed to DuckDB.
  if (problems.length === 0) {
    try {
      inspection = await inspectDatabaseFile(dest);
      problems.push(...compareCounts(expected, inspection));
    } catch (error) {
      problems.push(`does not open as a database: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0 || !inspection) {
    await removeDatabaseFile(dest);
    throw new BackupCorruptError(expected.name, problems);
  }
  return inspection;
}

export async function removeDatabaseFile(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.wal`, { force: true });
}
