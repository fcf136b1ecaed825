import type { DatabaseWriter } from '@datasync/db';
import { createAllQueues, Metrics, MetricsPublisher, recordLastSuccess } from '@datasync/runtime';
import { type EnvConfig, JOBS } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Alerter } from '../alerts/alerter.js';
import { alertChannelsFromConfig } from '../alerts/channels.js';
import { OperationsMonitor } from '../alerts/monitor.js';
import { LocalBackupStore } from '../backup/local-store.js';
import { AnalyticsSnapshot, snapshotMetrics } from '../snapshot/analytics-snapshot.js';
import type { HealthDeps } from './checks.js';
import { type HealthWorker, startHealthWorker } from './health-worker.js';

export interface OperationsDeps {
  connection: Redis;
  config: EnvConfig;
  logger: Logger;
  writer: DatabaseWriter;
  /** This process's metrics (pass the one the writer's observer feeds); made here when absent. */
  metrics?: Metrics;
  /** How often this process publishes its metrics to Redis for the api's /metrics. */
  metricsIntervalMs?: number;
}

/**
 * Everything issue 6 runs in the backup-worker: the health-check worker, the operations monitor
 * (alerts, job and row metrics, schedule windows), and the publisher of this process's metrics.
 * Returns the health worker; closing it closes the rest.
 */
export function startOperations(deps: OperationsDeps): HealthWorker {
  const { connection, config, logger, writer } = deps;
  const log = logger.child({ component: 'operations' });
  const metrics = deps.metrics ?? new Metrics('backup-worker');
  metrics.trackDatabaseFile(config.DATABASE_PATH);
  const queues = createAllQueues(connection, config);
  const backups = new LocalBackupStore(config.BACKUP_DIR, log);
  const newestBackup = async () => {
    const newest = (await backups.list()).sort(
      (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt),
    )[0];
    return newest
      ? { name: newest.name, createdAt: newest.createdAt, verification: newest.verification.state }
      : null;
  };
  // With ANALYTICS_SNAPSHOT_PATH, the read-only copy for other tools (one per backup-worker).
  const snapshot = config.ANALYTICS_SNAPSHOT_PATH
    ? new AnalyticsSnapshot({
        writer,
        databasePath: config.DATABASE_PATH,
        path: config.ANALYTICS_SNAPSHOT_PATH,
        intervalMs: config.ANALYTICS_SNAPSHOT_INTERVAL_S * 1000,
        logger: logger.child({ component: 'snapshot' }),
      }).start()
    : null;
  if (snapshot) snapshotMetrics(metrics, snapshot);
  const health: HealthDeps = {
    writer,
    redis: connection,
    queues,
    config,
    newestBackup,
    analyticsSnapshot: snapshot ? () => snapshot.status() : undefined,
  };
  const alerter = new Alerter({
    redis: connection,
    channels: alertChannelsFromConfig(config),
    cooldownMs: config.ALERT_COOLDOWN_MINUTES * 60_000,
    logger: log,
    metrics,
  });
  const monitor = new OperationsMonitor({
    connection,
    queues,
    alerter,
    metrics,
    logger: log,
    scheduleGraceMs: config.SCHEDULE_GRACE_MINUTES * 60_000,
    // As many failures in a minute as would lock out one client address.
    loginFailureBurst: config.LDAP_SERVER ? config.LOGIN_MAX_FAILURES * 4 : 0,
  }).start();
  const publisher = new MetricsPublisher({
    redis: connection,
    metrics,
    intervalMs: deps.metricsIntervalMs,
  }).start();
  // Backups made while no monitor was watching (or before this version) still count for the
  // "last backup age" metric.
  void newestBackup()
    .then((b) => (b ? recordLastSuccess(connection, JOBS.backup, Date.parse(b.createdAt)) : undefined))
    .catch((error: Error) => log.warn({ err: error.message }, 'could not read the newest backup'));

  const worker = startHealthWorker(health, { connection, config, logger, metrics });
  worker.closeWith({ name: 'operations monitor', close: () => monitor.close() });
  if (snapshot) worker.closeWith({ name: 'analytics snapshot', close: () => snapshot.close() });
  worker.closeWith({ name: 'metrics publisher', close: () => publisher.close() });
  worker.closeWith({ name: 'alert channels', close: () => alerter.close() });
  worker.closeWith({ name: 'queues', close: () => Promise.all([...queues.values()].map((q) => q.close())) });
  return worker;
}
