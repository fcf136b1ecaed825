import { setTimeout as delay } from 'node:timers/promises';
import { type JobStatus, QUEUES } from '@datasync/schemas';
import cliProgress from 'cli-progress';
import type { ApiClient } from './client.js';

export interface Accepted {
  jobId: string;
  type: string;
  queue: string;
  workers: number;
}

export class NoWorkerError extends Error {
  override readonly name = 'NoWorkerError';
}

/**
 * Waits for a job with a progress bar (on a terminal; silent with --json or when piped) and
 * returns its final status. With no worker on the queue it says so instead of hanging.
 */
export async function waitForJob(
  client: ApiClient,
  accepted: Accepted,
  options: { json: boolean; pollMs?: number },
): Promise<JobStatus> {
  if (accepted.workers === 0) {
    throw new NoWorkerError(
      `job ${accepted.jobId} is queued, but no worker is listening on the ${accepted.queue} queue: start the ${accepted.queue === QUEUES.backup || accepted.queue === QUEUES.health ? 'backup-worker' : 'sync-worker'} (it will run the job then), and follow it with: datasync jobs ${accepted.jobId}`,
    );
  }
  const showBar = !options.json && process.stderr.isTTY;
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: `${accepted.type} [{bar}] {percentage}% | {state} | {duration_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(100, 0, { state: 'waiting' });
  let lastWorkerCheck = Date.now();
  try {
    for (;;) {
      const status = await client.request<JobStatus>('GET', `/v1/jobs/${encodeURIComponent(accepted.jobId)}`);
      const progress =
        typeof status.progress === 'number'
          ? status.progress
          : Number((status.progress as { percent?: number })?.percent ?? 0);
      bar?.update(Math.max(0, Math.min(100, progress || 0)), { state: status.state });
      if (status.state === 'completed' || status.state === 'failed') {
        bar?.update(status.state === 'completed' ? 100 : progress || 0, { state: status.state });
        return status;
      }
      // A worker that went away while we wait: say so rather than wait forever.
      if (status.state === 'waiting' && Date.now() - lastWorkerCheck > 10_000) {
        lastWorkerCheck = Date.now();
        const ready = await client
          .request<{ queues: Record<string, { workers: number }> }>('GET', '/ready')
          .catch((error: { body?: { queues: Record<string, { workers: number }> } }) => error.body);
        if (ready?.queues?.[accepted.queue]?.workers === 0) {
          throw new NoWorkerError(
            `no worker is listening on the ${accepted.queue} queue any more; job ${accepted.jobId} stays queued`,
          );
        }
      }
      await delay(options.pollMs ?? 500);
    }
  } finally {
    bar?.stop();
  }
}
