import type { EnvConfig, QueueName } from '@datasync/schemas';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { QUEUE_PREFIX } from './queues.js';
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
}

/**
 * A BullMQ worker on one queue with the stack's conventions: a log line at job start and at finish
 * with its duration, a loud line when a job fails for good, lock duration from config (a job whose
 * process stops renewing it is redelivered after it).
 */
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
      lockDuration: options.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: options.config.WORKER_LOCK_DURATION_MS,
      maxStalledCount: 2,
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
