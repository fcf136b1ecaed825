import type { DatabaseWriter, WriterLock } from '@datasync/db';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LocalBackupStore } from './local-store.js';
import type { S3BackupStore } from './s3-store.js';

/** Points a backup passes through; a test may pause at one to kill the process there. */
export type BackupStage =
  | 'copying'
  | 'compressing'
  | 'verifying'
  | 'publishing'
  | 'data-published'
  | 'uploading'
  | 'data-uploaded'
  | 'done';

/** What every backup job needs; main.ts builds it, tests build it on temp folders. */
export interface BackupDeps {
  writer: DatabaseWriter;
  local: LocalBackupStore;
  s3: S3BackupStore | null;
  logger: Logger;
  retentionDays: number;
  /**
   * Serialises backup jobs across backup-worker replicas (a cleanup never deletes what a backup or
   * restore is using, and leftovers are never another job's work in progress).
   */
  opsLock?: WriterLock;
  /** Where the api keeps its idempotency records: a restore clears those of the batches it rolls back. */
  redis?: Redis;
  compressionLevel?: number;
  onStage?: (stage: BackupStage) => Promise<void> | void;
  now?: () => Date;
}

export async function withOpsLock<T>(deps: BackupDeps, fn: () => Promise<T>): Promise<T> {
  if (!deps.opsLock) return fn();
  await deps.opsLock.acquire();
  try {
    return await fn();
  } finally {
    await deps.opsLock.release();
  }
}

export const stage = async (deps: BackupDeps, name: BackupStage) => {
  await deps.onStage?.(name);
};
