import { createWriterFromConfig, exitOnForeignDatabase } from '@datasync/db';
import {
  bootWorker,
  LEADER_KEYS,
  Leadership,
  Metrics,
  MetricsPublisher,
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

const leadership = new Leadership({
  redis: lockRedis,
  key: LEADER_KEYS.syncWorker,
  leaseMs: config.WRITER_LOCK_LEASE_MS,
  logger: logger.child({ component: 'leadership' }),
  ...workersFollowingLead(workers, logger),
}).start();

shutdownWith([
  { name: 'workers', close: () => Promise.all(workers.map((w) => w.close())) },
  { name: 'group-commit', close: () => committer.drain(), local: true },
  { name: 'database', close: () => writer.close(), local: true },
  // Last: the standby takes over at once, and finds the database closed and the lock free.
  { name: 'leadership', close: () => leadership.close() },
  { name: 'metrics', close: () => publisher.close() },
  { name: 'exports', close: () => exportSweeper.close(), local: true },
]);
logger.info({ queues: workers.map((w) => w.name), database: config.DATABASE_PATH }, 'sync-worker started');
