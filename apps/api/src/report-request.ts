import { randomUUID } from 'node:crypto';
import type { QueueName } from '@datasync/schemas';
import type { ApiDeps } from './deps.js';
import { queueOf } from './deps.js';
import { gatewayTimeout, HttpProblem, serviceUnavailable } from './errors.js';
import { JobWaitTimeout, waitForJob } from './wait-for-job.js';

/**
 * The api never opens DuckDB: a read (report, rejects, backups list) goes to a worker as a job and
 * its result comes back here. No worker on the queue is a 503 at once rather than a hang.
 */
export async function requestFromWorker<T>(
  deps: ApiDeps,
  queueName: QueueName,
  jobName: string,
  data: unknown,
  timeoutMs = deps.config.WAIT_TIMEOUT_MS,
): Promise<T> {
  const queue = queueOf(deps, queueName);
  if ((await queue.getWorkersCount()) === 0) {
    throw serviceUnavailable(`no worker is listening on the ${queueName} queue; start it and retry`, 10);
  }
  const job = await queue.add(jobName, data, {
    jobId: randomUUID(),
    attempts: 1,
    removeOnComplete: { age: 600 },
    removeOnFail: { age: 3600 },
  });
  try {
    return await waitForJob<T>(deps, queueName, job.id!, timeoutMs);
  } catch (error) {
    if (error instanceof JobWaitTimeout)
      throw gatewayTimeout(`the ${queueName} worker did not answer within ${timeoutMs} ms`);
    throw new HttpProblem(500, 'Worker Failed', `the ${jobName} job failed: ${(error as Error).message}`);
  }
}
