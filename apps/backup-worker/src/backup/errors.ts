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
