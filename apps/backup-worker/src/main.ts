import { DatabaseWriter, WriterLock } from '@datasync/db';
import {
  checkRedisPolicy,
  createLogger,
  createRedis,
  disconnectAll,
  installShutdown,
  loadConfigOrExit,
} from '@datasync/runtime';
import type { Worker } from 'bullmq';
import { startBackupWorker } from './backup/backup-worker.js';
import type { BackupDeps } from './backup/context.js';
import { LocalBackupStore } from './backup/local-store.js';
import { createBackupProcessor } from './backup/processor.js';
import { s3StoreFromConfig } from './backup/s3-store.js';

const config = loadConfigOrExit('backup-worker');
const logger = createLogger('backup-worker', { level: config.LOG_LEVEL, file: config.LOG_FILE });

const connection = createRedis(config.REDIS_URL, 'worker');
const lockRedis = createRedis(config.REDIS_URL, 'worker');
connection.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
lockRedis.on('error', () => undefined);
connection.once('ready', () => void checkRedisPolicy(connection, logger));

const lock = new WriterLock({ redis: lockRedis, leaseMs: config.WRITER_LOCK_LEASE_MS });
const writer = new DatabaseWriter({
  path: config.DATABASE_PATH,
  lock,
  logger: logger.child({ component: 'writer' }),
  idleReleaseMs: config.WRITER_LOCK_IDLE_RELEASE_MS,
  duckdbOptions: {
    ...(config.DUCKDB_THREADS > 0 ? { threads: String(config.DUCKDB_THREADS) } : {}),
    ...(config.DUCKDB_MEMORY_LIMIT ? { memory_limit: config.DUCKDB_MEMORY_LIMIT } : {}),
  },
});
const opsLock = new WriterLock({
  redis: lockRedis,
  key: 'datasync:backup-ops-lock',
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
};
const workers: Worker[] = [
  startBackupWorker(createBackupProcessor(deps), { connection, config, logger }),
  // health: wired by issue 6
];

installShutdown(logger, [
  { name: 'workers', close: () => Promise.all(workers.map((w) => w.close())) },
  { name: 'locks', close: () => opsLock.close() },
  { name: 'database', close: () => writer.close() },
  { name: 's3', close: () => s3?.close() },
  { name: 'redis', close: () => disconnectAll([connection, lockRedis]) },
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
