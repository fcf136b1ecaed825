import { DatabaseWriter, WriterLock } from '@datasync/db';
import {
  checkRedisPolicy,
  createLogger,
  createRedis,
  disconnectAll,
  installShutdown,
  loadConfigOrExit,
} from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import type { Worker } from 'bullmq';
import { GroupCommitter } from './ingest/group-committer.js';
import { createIngestProcessor } from './ingest/ingest-processor.js';
import { createUserImportProcessor } from './user-import/user-import-processor.js';
import { startWorker } from './worker/start-worker.js';

const config = loadConfigOrExit('sync-worker');
const logger = createLogger('sync-worker', { level: config.LOG_LEVEL, file: config.LOG_FILE });

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

const committer = new GroupCommitter({
  writer,
  logger: logger.child({ component: 'group-commit' }),
  maxRows: config.GROUP_COMMIT_MAX_ROWS,
  maxWaitMs: config.GROUP_COMMIT_MAX_WAIT_MS,
});
const deps = { connection, config, logger };
const workers: Worker[] = [
  startWorker(QUEUES.ingest, createIngestProcessor(committer), deps, {
    concurrency: config.INGEST_CONCURRENCY,
    quiet: true,
  }),
  // sales-sync, user-import and reports workers: wired below by their issues
  startWorker(QUEUES.userImport, createUserImportProcessor({ writer, config, logger }), deps),
];

installShutdown(logger, [
  { name: 'workers', close: () => Promise.all(workers.map((w) => w.close())) },
  { name: 'group-commit', close: () => committer.drain() },
  { name: 'database', close: () => writer.close() },
  { name: 'redis', close: () => disconnectAll([connection, lockRedis]) },
]);
logger.info({ queues: workers.map((w) => w.name), database: config.DATABASE_PATH }, 'sync-worker started');
