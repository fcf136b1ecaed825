/** No backup of that name is listed, locally or in S3. Not retried. */
export class BackupNotFoundError extends Error {
  override readonly name = 'BackupNotFoundError';
}

/**
 * A backup failed its checks (checksum, size, decompression, opening, row counts). Not retried:
 * the same bytes fail the same way. The current database is never touched by such a backup.
 */
export class BackupCorruptError extends Error {
  override readonly name = 'BackupCorruptError';
  constructor(
    readonly backup: string,
    readonly problems: string[],
  ) {
    super(`backup ${backup} failed its checks: ${problems.join('; ')}`);
  }
}

/** Copying a backup to S3 failed or its checksum did not match; the local backup is kept. */
export class BackupUploadError extends Error {
  override readonly name = 'BackupUploadError';
}

/** Retention could not list a store, or a store did not delete what it was asked to. */
export class RetentionError extends Error {
  override readonly name = 'RetentionError';
}

/** A backup made by a newer schema than this code knows cannot be restored by it. */
export class BackupTooNewError extends Error {
  override readonly name = 'BackupTooNewError';
}

/** Errno codes of a folder that cannot take a write, and what each means to an operator. */
const STORAGE_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/**
 * A folder the job writes to cannot take the write: full, over quota, read-only, or not ours.
 * Not retried: retrying in seconds fixes none of these, an operator does (the failed job alerts
 * once). The message names the folder by its setting, never a server path.
 */
export class BackupStorageError extends Error {
  override readonly name = 'BackupStorageError';
  constructor(
    readonly code: string,
    readonly folder: string,
    options?: ErrorOptions,
  ) {
    super(`${folder}: ${STORAGE_CODES[code]} (${code})`, options);
  }
}

export function isStorageFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return error instanceof BackupStorageError || (typeof code === 'string' && code in STORAGE_CODES);
}

/**
 * The storage failure behind `error`, if that is what it is, naming the first of `folders` that
 * holds the path it failed on (a failed write on an open file has no path: `fallback` then).
 */
export function asStorageError(
  error: unknown,
  folders: { path: string; name: string }[],
  fallback: string,
): BackupStorageError | null {
  if (error instanceof BackupStorageError) return error;
  if (!isStorageFailure(error)) return null;
  const { code, path, dest } = error as NodeJS.ErrnoException & { dest?: string };
  const where = [dest, path].filter((p): p is string => typeof p === 'string');
  const folder = folders.find((f) => where.some((p) => p === f.path || p.startsWith(`${f.path}/`)));
  return new BackupStorageError(code!, folder?.name ?? fallback, { cause: error });
}
