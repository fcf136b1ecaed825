import { hostname } from 'node:os';
import { createWriterFromConfig, exitOnForeignDatabase } from '@datasync/db';
import {
  bootWorker,
  createRedis,
  LEADER_KEYS,
  Leadership,
  Metrics,
  MetricsPublisher,
  readStreamLag,
  startQueueWorker,
  workersFollowingLead,
  writerObserver,
} from '@datasync/runtime';
import { JOBS, QUEUES } from '@datasync/schemas';
import type { Job, Worker } from 'bullmq';
import { ExportSweeper, exportsDirOf } from './exports/export-files.js';
import { commitEventPublisher } from './ingest/commit-events.js';
import { GroupCommitter } from './ingest/group-committer.js';
import { createIngestProcessor } from './ingest/ingest-processor.js';
import { createMigrateProcessor } from './migrate/migrate-processor.js';
import { createReportsProcessor } from './reports/reports-processor.js';
import { createSalesSyncProcessor } from './sales-sync/sales-sync-processor.js';
import { StreamConsumer } from './stream/stream-consumer.js';
import { createUserImportProcessor } from './user-import/user-import-processor.js';

const { config, logger, connection, lockRedis, shutdownWith } = bootWorker('sync-worker', {
  lockConnection: true,
});
// Before anything opens the file for writing: the old script's database is refused, never migrated.
await exitOnForeignDatabase('sync-worker', config.DATABASE_PATH);

const metrics = new Metrics('sync-worker');
metrics.trackDatabaseFile(config.DATABASE_PATH);
const publisher = new MetricsPublisher({ redis: connection, metrics }).start();
const { writer } = createWriterFromConfig(config, {
  redis: lockRedis,
  logger: logger.child({ component: 'writer' }),
  observer: writerObserver(metrics, lockRedis),
});

const committer = new GroupCommitter({
  writer,
  logger: logger.child({ component: 'group-commit' }),
  maxRows: config.GROUP_COMMIT_MAX_ROWS,
  maxWaitMs: config.GROUP_COMMIT_MAX_WAIT_MS,
  onCommitted: commitEventPublisher(connection),
});
// The old database's migration (`datasync migrate`) is a job on the sales-sync queue too.
const salesSync = createSalesSyncProcessor({ writer, config, logger });
const migrateLegacy = createMigrateProcessor({ writer, config, logger });
const salesSyncOrMigrate = (job: Job) => (job.name === JOBS.migrate ? migrateLegacy(job) : salesSync(job));
const exportsDir = exportsDirOf(config.IMPORT_DIR);
const exportSweeper = new ExportSweeper({
  exportsDir,
  logger: logger.child({ component: 'exports' }),
}).start();
// Every queue worker waits for the lead: a second sync-worker is a standby for availability and
// takes no job (so no DuckDB handover) until the leader is gone (docs/operations.md, Scaling).
const deps = { connection, config, logger, autorun: false };
const workers: Worker[] = [
  startQueueWorker(QUEUES.ingest, createIngestProcessor(committer), {
    ...deps,
    concurrency: config.INGEST_CONCURRENCY,
    quiet: true,
  }),
  startQueueWorker(QUEUES.userImport, createUserImportProcessor({ writer, config, logger }), deps),
  // The nightly sales sync is scheduled: a run that finds the previous one still active is skipped.
  startQueueWorker(QUEUES.salesSync, salesSyncOrMigrate, {
    ...deps,
    scheduled: { metrics },
  }),
  startQueueWorker(QUEUES.reports, createReportsProcessor({ writer, exportsDir }), {
    ...deps,
    concurrency: 4,
    quiet: true,
  }),
];

// The real-time stream (SALES_STREAM_KEY): consumed by the leader only, like the queues, on a
// connection of its own (a blocking read holds it).
const streamKey = config.SALES_STREAM_KEY;
const streamRedis = streamKey ? createRedis(config.REDIS_URL, 'worker') : null;
streamRedis?.on('error', (error) => logger.warn({ err: error.message }, 'stream redis connection error'));
const stream =
  streamKey && streamRedis
    ? new StreamConsumer({
        redis: streamRedis,
        writer,
        logger: logger.child({ component: 'stream' }),
        stream: streamKey,
        group: config.SALES_STREAM_GROUP,
        consumer: config.SALES_STREAM_CONSUMER ?? hostname(),
        readCount: config.SALES_STREAM_READ_COUNT,
        blockMs: config.SALES_STREAM_BLOCK_MS,
        maxDeliveries: config.SALES_STREAM_MAX_DELIVERIES,
        claimIdleMs: config.SALES_STREAM_CLAIM_IDLE_MS,
        trim: config.SALES_STREAM_TRIM,
        metrics,
        onCommitted: commitEventPublisher(connection),
      })
    : null;
if (streamKey) {
  metrics.trackStreamLag(streamKey, () => readStreamLag(connection, streamKey, config.SALES_STREAM_GROUP));
}
const queuesFollowing = workersFollowingLead(workers, logger);

const leadership = new Leadership({
  redis: lockRedis,
  key: LEADER_KEYS.syncWorker,
  leaseMs: config.WRITER_LOCK_LEASE_MS,
  logger: logger.child({ component: 'leadership' }),
  onLead: () => {
    queuesFollowing.onLead();
    stream?.start();
  },
  onStandby: async () => {
    await Promise.all([queuesFollowing.onStandby(), stream?.stop()]);
  },
}).start();

shutdownWith([
  // First: stop reading, commit and acknowledge the group under way.
  { name: 'stream', close: () => stream?.stop() },
  { name: 'workers', close: () => Promise.all(workers.map((w) => w.close())) },
  { name: 'group-commit', close: () => committer.drain(), local: true },
  { name: 'database', close: () => writer.close(), local: true },
  // Last: the standby takes over at once, and finds the database closed and the lock free.
  { name: 'leadership', close: () => leadership.close() },
  { name: 'metrics', close: () => publisher.close() },
  { name: 'exports', close: () => exportSweeper.close(), local: true },
  { name: 'stream-redis', close: () => streamRedis?.disconnect() },
]);
logger.info(
  { queues: workers.map((w) => w.name), database: config.DATABASE_PATH, stream: streamKey ?? null },
  'sync-worker started',
);
