import { ALL_QUEUES, type EnvConfig, type QueueName } from '@datasync/schemas';
import { type ConnectionOptions, type DefaultJobOptions, Queue, QueueEvents } from 'bullmq';
import { QUEUE_PREFIX } from './keys.js';

/**
 * Retries with exponential backoff; finished jobs kept long enough to be asked about
 * (`GET /v1/jobs/:id`), failed ones longer, so a job out of retries stays visible with its reason.
 */
export function defaultJobOptions(
  config: Pick<EnvConfig, 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>,
): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: { age: 7 * 86_400, count: 50_000 },
    removeOnFail: { age: 30 * 86_400 },
  };
}

export function createQueue(
  name: QueueName,
  connection: ConnectionOptions,
  config: Pick<EnvConfig, 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>,
): Queue {
  const queue = new Queue(name, {
    connection,
    prefix: QUEUE_PREFIX,
    defaultJobOptions: defaultJobOptions(config),
  });
  // Connection errors surface on each call (the api answers 503); an unheard 'error' event would
  // crash the process instead.
  queue.on('error', () => undefined);
  return queue;
}

export function createQueueEvents(name: QueueName, connection: ConnectionOptions): QueueEvents {
  return new QueueEvents(name, { connection, prefix: QUEUE_PREFIX });
}

export function createAllQueues(
  connection: ConnectionOptions,
  config: Pick<EnvConfig, 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>,
): Map<QueueName, Queue> {
  return new Map(ALL_QUEUES.map((name) => [name, createQueue(name, connection, config)]));
}
