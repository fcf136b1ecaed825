import { z } from 'zod';
import { BackupName } from './names.js';

/**
 * Backups: the manifest stored beside each backup file (locally and in S3), the entries of
 * `GET /v1/backups`, and the results of the backup queue's jobs. A backup exists only once its
 * manifest does: the manifest is written last, so a file without one is never listed.
 */

export const BackupLocation = z.enum(['local', 's3']);
export type BackupLocation = z.infer<typeof BackupLocation>;

export const TableCounts = z.record(z.string(), z.number().int().min(0)).describe('row count per table');
export type TableCounts = z.infer<typeof TableCounts>;

export const BackupVerification = z.object({
  state: z.enum(['verified', 'failed', 'unverified']),
  at: z.string().nullable().describe('when it was last verified'),
  problems: z.array(z.string()).default([]),
});
export type BackupVerification = z.infer<typeof BackupVerification>;

export const BackupManifest = z.object({
  format: z.literal(1),
  name: BackupName,
  createdAt: z.iso.datetime(),
  file: z.string().describe('the compressed database file, beside the manifest'),
  compression: z.literal('gzip'),
  size: z.number().int().min(0).describe('bytes of the compressed file'),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe('of the compressed file'),
  databaseSize: z.number().int().min(0).describe('bytes of the database once decompressed'),
  databaseSha256: z.string().regex(/^[0-9a-f]{64}$/),
  schemaVersion: z.number().int().min(0),
  duckdbVersion: z.string(),
  tables: TableCounts,
  verification: BackupVerification,
  jobId: z.string().nullable().default(null).describe('the backup job that made it'),
});
export type BackupManifest = z.infer<typeof BackupManifest>;

export const BackupInfo = z.object({
  name: z.string(),
  createdAt: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  verification: BackupVerification,
  locations: z.array(BackupLocation),
  schemaVersion: z.number().int(),
  duckdbVersion: z.string(),
  tables: TableCounts,
});
export type BackupInfo = z.infer<typeof BackupInfo>;

export const ListBackupsResult = z.object({
  backups: z.array(BackupInfo).describe('newest first'),
  s3: z.object({
    configured: z.boolean(),
    error: z.string().nullable().describe('S3 could not be listed: only local backups are shown'),
  }),
});
export type ListBackupsResult = z.infer<typeof ListBackupsResult>;

export const BackupJobResult = z.object({
  backup: BackupInfo,
  uploaded: z.boolean().describe('copied to S3 and its checksum checked'),
  resumed: z.boolean().describe('a retry that found this job’s local backup and only uploaded it'),
  lockHeldMs: z.number().int().describe('how long ingest was paused for the snapshot copy'),
  durationMs: z.number().int(),
});
export type BackupJobResult = z.infer<typeof BackupJobResult>;

export const DeletedBackup = z.object({ name: z.string(), locations: z.array(BackupLocation) });

export const BackupCleanupJobResult = z.object({
  days: z.number().int(),
  cutoff: z.string().describe('backups created before this were due'),
  deleted: z.array(DeletedBackup),
  kept: z.number().int().describe('backups left'),
  protected: z.string().nullable().describe('the newest verified backup, never deleted'),
  orphansDeleted: z.array(z.string()).describe('S3 objects of backups that never got a manifest'),
});
export type BackupCleanupJobResult = z.infer<typeof BackupCleanupJobResult>;

/**
 * A batch committed to the database a restore replaced, and missing from the backup it restored:
 * its rows are gone. Its idempotency record (API batches) is cleared, so the sender can send it
 * again with the same Idempotency-Key and get a new receipt instead of the old one.
 */
export const RolledBackBatch = z.object({
  batchId: z.string(),
  source: z.string().describe('the API key (or import) it came from'),
  kind: z.string().describe('api-batch, csv (a chunk of an import) or upstream (the nightly sync)'),
  rows: z.number().int().describe('sales rows it had stored'),
  rejected: z.number().int().describe('records it had quarantined'),
  receivedAt: z
    .string()
    .nullable()
    .describe('when the api accepted it (from its idempotency record); null when not known'),
  committedAt: z.string().describe('when it was committed to the replaced database'),
  idempotencyCleared: z.boolean().describe('its idempotency record was removed: a resend is a new batch'),
});
export type RolledBackBatch = z.infer<typeof RolledBackBatch>;

export const RestoreJobResult = z.object({
  name: z.string(),
  source: BackupLocation,
  tables: TableCounts,
  schemaVersion: z.number().int(),
  previousDatabase: z.string().nullable().describe('where the database that was replaced was kept'),
  rolledBack: z
    .array(RolledBackBatch)
    .describe(
      'every batch committed after the backup was taken (so missing from it), oldest first: send them again',
    ),
  lockHeldMs: z.number().int(),
  durationMs: z.number().int(),
});
export type RestoreJobResult = z.infer<typeof RestoreJobResult>;

export const VerifiedCopy = z.object({
  location: BackupLocation,
  ok: z.boolean(),
  problems: z.array(z.string()),
});

export const VerifyBackupJobResult = z.object({
  name: z.string(),
  ok: z.boolean(),
  copies: z.array(VerifiedCopy),
  tables: TableCounts.nullable().describe('counts found in the restored copy'),
  durationMs: z.number().int(),
});
export type VerifyBackupJobResult = z.infer<typeof VerifyBackupJobResult>;
