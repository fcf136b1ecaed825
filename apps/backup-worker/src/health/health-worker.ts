import {
  beginScheduledRun,
  type Closable,
  type Metrics,
  QUEUE_PREFIX,
  queueWorkerTimings,
} from '@datasync/runtime';
import { type EnvConfig, HEALTH_CHECK_JOB, HealthCheckJobData, QUEUES } from '@datasync/schemas';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HealthDeps } from './checks.js';
import { runHealthCheck } from './health-check.js';

/**
 * The health queue's worker. Its `close` also closes what runs beside it in this process (the
 * operations monitor, the metrics publisher, alert channels), so main.ts stops them all with it.
 */
export class HealthWorker extends Worker {
  private readonly companions: Closable[] = [];

  closeWith(part: Closable): void {
    this.companions.push(part);
  }

  override async close(force?: boolean): Promise<void> {
    await super.close(force);
    for (const part of this.companions.splice(0)) await part.close();
  }
}

export function startHealthWorker(
  health: HealthDeps,
  deps: {
    connection: Redis;
    config: Pick<EnvConfig, 'WORKER_LOCK_DURATION_MS'>;
    logger: Logger;
    metrics?: Metrics;
  },
): HealthWorker {
  const log = deps.logger.child({ queue: QUEUES.health });
  const worker = new HealthWorker(
    QUEUES.health,
    async (job: Job) => {
      if (job.name !== HEALTH_CHECK_JOB)
        throw new UnrecoverableError(`unknown job "${job.name}" on the health queue`);
      const parsed = HealthCheckJobData.safeParse(job.data ?? {});
      if (!parsed.success)
        throw new UnrecoverableError(`invalid health-check job data: ${parsed.error.message}`);
      const skipped = await beginScheduledRun(job, {
        redis: deps.connection,
        metrics: deps.metrics,
        logger: log,
      });
      if (skipped) return skipped;
      const started = performance.now();
      const result = await runHealthCheck(health, { onProgress: (p) => job.updateProgress(p) });
      log[result.status === 'ok' ? 'info' : 'warn'](
        {
          jobId: job.id,
          status: result.status,
          failing: result.checks.filter((c) => c.status !== 'ok').map((c) => `${c.name}: ${c.status}`),
          ms: Math.round(performance.now() - started),
        },
        'health check finished',
      );
      return result;
    },
    {
      connection: deps.connection,
      prefix: QUEUE_PREFIX,
      concurrency: 1,
      ...queueWorkerTimings(deps.config),
    },
  );
  worker.on('error', (error) => log.error({ err: error.message }, 'worker error'));
  return worker;
}
