import { QUEUE_PREFIX } from '@datasync/runtime';
import { type EnvConfig, QUEUES } from '@datasync/schemas';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The BullMQ worker of the backup queue: one job at a time (a backup, a restore and a cleanup
 * must not interleave), a log line at job start and at finish with duration.
 */
export function startBackupWorker(
  processor: (job: Job) => Promise<unknown>,
  deps: { connection: Redis; config: Pick<EnvConfig, 'WORKER_LOCK_DURATION_MS'>; logger: Logger },
): Worker {
  const log = deps.logger.child({ queue: QUEUES.backup });
  const worker = new Worker(
    QUEUES.backup,
    async (job) => {
      const started = performance.now();
      log.info({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 }, 'job started');
      const result = await processor(job);
      log.info({ jobId: job.id, job: job.name, ms: Math.round(performance.now() - started) }, 'job finished');
      return result;
    },
    {
      connection: deps.connection,
      prefix: QUEUE_PREFIX,
      concurrency: 1,
      lockDuration: deps.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: deps.config.WORKER_LOCK_DURATION_MS,
      maxStalledCount: 2,
    },
  );
  worker.on('failed', (job, error) => {
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    const outOfRetries = job.attemptsMade >= attempts || error.name === 'UnrecoverableError';
    log[outOfRetries ? 'error' : 'warn'](
      { jobId: job.id, job: job.name, attempt: job.attemptsMade, attempts, err: error.message },
      outOfRetries ? 'job failed for good' : 'job failed; it will be retried',
    );
  });
  worker.on('error', (error) => log.error({ err: error.message }, 'worker error'));
  return worker;
}
