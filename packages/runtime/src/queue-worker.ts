import type { EnvConfig, QueueName } from '@datasync/schemas';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { QUEUE_PREFIX } from './keys.js';
import type { Metrics } from './metrics.js';
import { beginScheduledRun } from './schedules.js';

export type JobProcessor = (job: Job) => Promise<unknown>;

export interface QueueWorkerOptions {
  connection: Redis;
  config: Pick<EnvConfig, 'WORKER_LOCK_DURATION_MS'>;
  logger: Logger;
  concurrency?: number;
  /** Log job start and finish at debug instead of info (the hot ingest queue). */
  quiet?: boolean;
  /**
   * The queue carries jobs a schedule starts: a scheduled run whose previous run of the same
   * schedule is still active is skipped (and recorded) instead of running twice.
   */
  scheduled?: { metrics?: Metrics | undefined };
  /** false: the worker takes no job until `run()`/`resume()` (a standby replica; see Leadership). */
  autorun?: boolean;
}

/**
 * A BullMQ worker on one queue with the stack's conventions: a log line at job start and at finish
 * with its duration, a loud line when a job fails for good, lock duration from config (a job whose
 * process stops renewing it is redelivered after it).
 *
 * A killed worker's job is back in the queue once its lock ran out and a stalled check ran: at
 * most lockDuration + stalledInterval after the kill, so the check runs every half lock (10 s +
 * 5 s by default: within the writer lease). A shorter lock is safe against double processing (a
 * blocked event loop, bullmq 3183): the ingest ledger and the import ledgers make a re-run a no-op.
 */
/** Job lock and stall detection for every worker of the stack (see startQueueWorker). */
export function queueWorkerTimings(config: Pick<EnvConfig, 'WORKER_LOCK_DURATION_MS'>) {
  return {
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: Math.max(250, Math.floor(config.WORKER_LOCK_DURATION_MS / 2)),
    maxStalledCount: 2,
  };
}

export function startQueueWorker(
  queue: QueueName,
  processor: JobProcessor,
  options: QueueWorkerOptions,
): Worker {
  const log = options.logger.child({ queue });
  const level = options.quiet ? 'debug' : 'info';
  const worker = new Worker(
    queue,
    async (job) => {
      if (options.scheduled) {
        const skipped = await beginScheduledRun(job, {
          redis: options.connection,
          metrics: options.scheduled.metrics,
          logger: log,
        });
        if (skipped) return skipped;
      }
      const started = performance.now();
      log[level]({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 }, 'job started');
      const result = await processor(job);
      log[level](
        { jobId: job.id, job: job.name, ms: Math.round(performance.now() - started) },
        'job finished',
      );
      return result;
    },
    {
      connection: options.connection,
      prefix: QUEUE_PREFIX,
      concurrency: options.concurrency ?? 1,
      ...queueWorkerTimings(options.config),
      autorun: options.autorun ?? true,
    },
  );
  worker.on('failed', (job, error) => {
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    const forGood = job.attemptsMade >= attempts || error.name === 'UnrecoverableError';
    log[forGood ? 'error' : 'warn'](
      { jobId: job.id, job: job.name, attempt: job.attemptsMade, attempts, err: error.message },
      forGood ? 'job failed and is out of retries' : 'job failed; it will be retried',
    );
  });
  worker.on('error', (error) => log.error({ err: error.message }, 'worker error'));
  return worker;
}
