import type { EventEmitter } from 'node:events';
import type { QueueName } from '@datasync/schemas';
import type { ApiDeps } from './deps.js';
import { queueOf } from './deps.js';

export class JobWaitTimeout extends Error {
  override readonly name = 'JobWaitTimeout';
}
export class JobFailed extends Error {
  override readonly name = 'JobFailed';
}

// Between two state reads while no event came: short at first (a report takes milliseconds),
// then once a second, so a long wait costs one small Redis call a second.
const POLL_MS = [25, 50, 100, 200, 400, 800, 1_000];

/**
 * Resolves with a job's return value once it completes; rejects with JobFailed when it failed for
 * good, or JobWaitTimeout after `timeoutMs`. The completion event is the fast path, but an event
 * reader can miss one: BullMQ's QueueEvents reads its stream from "now" (`$`), so a job that
 * finishes after the "already finished?" check and before the reader's first XREAD, or between
 * two XREADs, is never told. So the job's state is also read from Redis: at once after
 * subscribing, then on a backing-off timer. Whichever answers first wins; no answer is lost.
 */
export function waitForJob<T>(
  deps: ApiDeps,
  queueName: QueueName,
  jobId: string,
  timeoutMs: number,
): Promise<T> {
  const queue = queueOf(deps, queueName);
  // Per-job event names (`completed:<id>`) are outside BullMQ's typed listener map.
  const events = deps.queueEvents(queueName) as unknown as EventEmitter;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let poll: NodeJS.Timeout | undefined;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(poll);
      events.off(`completed:${jobId}`, onCompleted);
      events.off(`failed:${jobId}`, onFailed);
      finish();
    };
    const onCompleted = (args: { returnvalue: unknown }) => settle(() => resolve(args.returnvalue as T));
    const onFailed = (args: { failedReason: string }) =>
      settle(() => reject(new JobFailed(args.failedReason)));
    events.on(`completed:${jobId}`, onCompleted);
    events.on(`failed:${jobId}`, onFailed);
    const deadline = setTimeout(
      () => settle(() => reject(new JobWaitTimeout(`job ${jobId} did not finish within ${timeoutMs} ms`))),
      timeoutMs,
    );
    const check = async (attempt: number) => {
      try {
        const state = await queue.getJobState(jobId);
        if (state === 'completed' || state === 'failed') {
          const job = await queue.getJob(jobId);
          if (state === 'completed') return settle(() => resolve(job?.returnvalue as T));
          return settle(() => reject(new JobFailed(job?.failedReason ?? 'the job failed')));
        }
      } catch {
        // Redis unreachable for a moment: the next read (or the deadline) decides.
      }
      if (!settled)
        poll = setTimeout(() => void check(attempt + 1), POLL_MS[Math.min(attempt, POLL_MS.length - 1)]);
    };
    void check(0);
  });
}
