import { statSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StreamLag } from './stream.js';

/**
 * Every datasync metric, defined once. Each process builds one `Metrics`; the workers publish
 * theirs to Redis (`MetricsPublisher`, metrics-publishing.ts) and the api serves its own merged
 * with all published ones (apps/api metrics-view.ts), so one scrape of `/metrics` shows the whole stack (docs/monitoring.md).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly jobDuration = new Histogram({
    name: 'datasync_job_duration_seconds',
    help: 'Duration of a job’s final attempt, from active to completed or failed',
    labelNames: ['queue', 'type', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly rowsAccepted = new Counter({
    name: 'datasync_rows_accepted_total',
    help: 'Sales rows committed to DuckDB by ingest jobs (a duplicate batch adds none)',
    registers: [this.registry],
  });
  readonly rowsRejected = new Counter({
    name: 'datasync_rows_rejected_total',
    help: 'Sales records quarantined in the rejects table by ingest jobs',
    registers: [this.registry],
  });
  readonly lockWait = new Histogram({
    name: 'datasync_writer_lock_wait_seconds',
    help: 'Time a process waited for the single writer lock',
    labelNames: ['process'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });
  readonly lockHold = new Histogram({
    name: 'datasync_writer_lock_hold_seconds',
    help: 'Time a process held the single writer lock before handing it over',
    labelNames: ['process'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly alertsRaised = new Counter({
    name: 'datasync_alerts_raised_total',
    help: 'Alert incidents raised, by kind (sent or held back by the cool-down)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly alertsSuppressed = new Counter({
    name: 'datasync_alerts_suppressed_total',
    help: 'Alerts not sent because the same alert was sent within ALERT_COOLDOWN_MINUTES',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly alertsSent = new Counter({
    name: 'datasync_alerts_sent_total',
    help: 'Alerts delivered, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly alertFailures = new Counter({
    name: 'datasync_alert_failures_total',
    help: 'Alerts a channel failed to deliver (logged; never fails the job reported on)',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly scheduleSkips = new Counter({
    name: 'datasync_schedule_skipped_runs_total',
    help: 'Scheduled runs skipped because the previous run of the schedule was still active',
    labelNames: ['schedule'] as const,
    registers: [this.registry],
  });
  readonly scheduleMissed = new Counter({
    name: 'datasync_schedule_missed_total',
    help: 'Scheduled runs that had not started SCHEDULE_GRACE_MINUTES after they were due',
    labelNames: ['schedule'] as const,
    registers: [this.registry],
  });
  private databasePath: string | null = null;
  readonly databaseSize = ((owner: Metrics) =>
    new Gauge({
      name: 'datasync_database_size_bytes',
      help: 'Size of the DuckDB file and its write-ahead log, as a worker sees it',
      aggregator: 'max',
      registers: [this.registry],
      collect() {
        if (!owner.databasePath) return;
        const bytes = fileSize(owner.databasePath) + fileSize(`${owner.databasePath}.wal`);
        if (bytes > 0) this.set(bytes);
      },
    }))(this);

  readonly streamEntries = new Counter({
    name: 'datasync_stream_entries_total',
    help: 'Stream entries committed by outcome (stored, rejected, dead-letter, empty, duplicate)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private streamLag: { stream: string; read: () => Promise<StreamLag> } | null = null;
  readonly streamLagEntries = this.streamLagGauge(
    'datasync_stream_lag_entries',
    'Stream entries not yet committed: pending at a consumer plus not yet delivered',
    (lag) => lag.entries,
  );
  readonly streamLagSeconds = this.streamLagGauge(
    'datasync_stream_lag_seconds',
    'Age of the oldest stream entry not yet committed (0 with none)',
    (lag) => lag.seconds,
  );

  constructor(readonly processName: string) {}

  /** Reports the stream's lag at each collection (`read`: readStreamLag of the configured stream). */
  trackStreamLag(stream: string, read: () => Promise<StreamLag>): void {
    this.streamLag = { stream, read };
  }

  private streamLagGauge(name: string, help: string, value: (lag: StreamLag) => number) {
    const owner = this;
    return new Gauge({
      name,
      help,
      labelNames: ['stream'] as const,
      aggregator: 'max',
      registers: [this.registry],
      async collect() {
        const tracked = owner.streamLag;
        if (!tracked) return;
        try {
          const lag = await tracked.read();
          this.reset();
          this.set({ stream: tracked.stream }, value(lag));
        } catch {
          // Redis down: no sample rather than a stale one.
          this.reset();
        }
      },
    });
  }

  /** Reports the database file's size at each collection (in the workers, which share the file). */
  trackDatabaseFile(path: string): void {
    this.databasePath = path;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
