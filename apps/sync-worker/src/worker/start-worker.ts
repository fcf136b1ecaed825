import { QUEUE_PREFIX } from '@datasync/runtime';
import type { EnvConfig, QueueName } from '@datasync/schemas';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export type Processor = (job: Job) => Promise<unknown>;

/**
 * A BullMQ worker on one queue with our conventions: a log line at job start (debug for the hot
 * ingest queue) and at finish with duration, a loud line when a job is out of retries.
 */
export function startWorker(
  queue: QueueName,
  processor: Processor,
  deps: { connection: Redis; config: EnvConfig; logger: Logger },
  options: { concurrency?: number; quiet?: boolean } = {},
): Worker {
  const log = deps.logger.child({ queue });
  const level = options.quiet ? 'debug' : 'info';
  const worker = new Worker(
    queue,
    async (job) => {
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
      connection: deps.connection,
      prefix: QUEUE_PREFIX,
      concurrency: options.concurrency ?? 1,
      lockDuration: deps.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: deps.config.WORKER_LOCK_DURATION_MS,
      maxStalledCount: 2,
    },
  );
  worker.on('failed', (job, error) => {
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    const outOfRetries = job.attemptsMade >= attempts;
    log[outOfRetries ? 'error' : 'warn'](
      { jobId: job.id, job: job.name, attempt: job.attemptsMade, attempts, err: error.message },
      outOfRetries ? 'job failed and is out of retries' : 'job failed; it will be retried',
    );
  });
  worker.on('error', (error) => log.error({ err: error.message }, 'worker error'));
  return worker;
}
