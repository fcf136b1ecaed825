import { existsSync } from 'node:fs';
import { copyFile, stat } from 'node:fs/promises';
import { checkpointDatabaseFile, type DatabaseWriter } from '@datasync/db';

const fileHasBytes = (path: string) =>
  stat(path).then(
    (s) => s.size > 0,
    () => false,
  );

/** What the database file and its log looked like when copied: a change means a commit since. */
export async function databaseFileSignature(path: string): Promise<string> {
  const one = (p: string) =>
    stat(p).then(
      (s) => `${s.size}:${s.mtimeMs}`,
      () => '-',
    );
  return `${await one(path)}|${await one(`${path}.wal`)}`;
}

export interface DatabaseCopy {
  /** How long the writer lock was held (ingest waited at most this long). */
  heldMs: number;
  /** The source's signature at the copy (see databaseFileSignature). */
  signature: string;
}

/**
 * Copies the database under the writer lock with the file closed and checkpointed: the copy is a
 * consistent picture between two ingest transactions, and ingest waits only for the copy. Then,
 * outside the lock, a log the copy carries is folded in, so the copy stands alone.
 */
export async function copyDatabase(
  writer: DatabaseWriter,
  dest: string,
  beforeCopy?: () => Promise<void>,
): Promise<DatabaseCopy> {
  let heldMs = 0;
  let signature = '';
  await writer.exclusive(async ({ path }) => {
    const started = performance.now();
    await beforeCopy?.();
    signature = await databaseFileSignature(path);
    await copyFile(path, dest);
    // A checkpoint that failed at close leaves its log: it belongs to the copy.
    if (await fileHasBytes(`${path}.wal`)) await copyFile(`${path}.wal`, `${dest}.wal`);
    heldMs = performance.now() - started;
  });
  if (existsSync(`${dest}.wal`)) await checkpointDatabaseFile(dest);
  return { heldMs, signature };
}
