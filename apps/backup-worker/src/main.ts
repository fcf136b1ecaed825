import { createWriterFromConfig, exitOnForeignDatabase, WriterLock } from '@datasync/db';
import {
  BACKUP_OPS_LOCK_KEY,
  bootWorker,
  Metrics,
  startQueueWorker,
  writerObserver,
} from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import type { Worker } from 'bullmq';
import type { BackupDeps } from './backup/context.js';
import { LocalBackupStore } from './backup/local-store.js';
import { createBackupProcessor } from './backup/processor.js';
import { s3StoreFromConfig } from './backup/s3-store.js';
import { startOperations } from './health/operations.js';

const { config, logger, connection, lockRedis, shutdownWith } = bootWorker('backup-worker', {
  lockConnection: true,
});
// Before anything opens the file for writing: the old script's database is refused, never migrated.
await exitOnForeignDatabase('backup-worker', config.DATABASE_PATH);

const metrics = new Metrics('backup-worker');
const { writer } = createWriterFromConfig(config, {
  redis: lockRedis,
  logger: logger.child({ component: 'writer' }),
  observer: writerObserver(metrics, lockRedis),
});
const opsLock = new WriterLock({
  redis: lockRedis,
  key: BACKUP_OPS_LOCK_KEY,
  leaseMs: config.WRITER_LOCK_LEASE_MS,
});
const s3 = s3StoreFromConfig(config);

const deps: BackupDeps = {
  writer,
  local: new LocalBackupStore(config.BACKUP_DIR, logger.child({ component: 'backups' })),
  s3,
  logger,
  retentionDays: config.BACKUP_RETENTION_DAYS,
  opsLock,
  redis: connection,
};
const workers: Worker[] = [
  startQueueWorker(QUEUES.backup, createBackupProcessor(deps), {
    connection,
    config,
    logger,
    scheduled: { metrics },
  }),
  startOperations({ connection, config, logger, writer, metrics }),
];

shutdownWith([
  { name: 'workers', close: () => Promise.all(workers.map((w) => w.close())) },
  { name: 'locks', close: () => opsLock.close(), local: true },
  { name: 'database', close: () => writer.close(), local: true },
  { name: 's3', close: () => s3?.close(), local: true },
]);
logger.info(
  {
    queues: workers.map((w) => w.name),
    database: config.DATABASE_PATH,
    backupDir: config.BACKUP_DIR,
    s3: s3 ? { bucket: s3.bucket, prefix: s3.prefix, endpoint: config.AWS_ENDPOINT_URL_S3 ?? null } : null,
  },
  'backup-worker started',
);
