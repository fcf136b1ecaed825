import { catchUpJobId, readScheduleRecords } from '@datasync/runtime';
import type { QueueName } from '@datasync/schemas';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type ConfiguredSchedule, previousDueTime } from './timetable.js';

export interface CatchUpDeps {
  redis: Redis;
  /** Every queue: a job scheduler on any of them that the timetable does not name is removed. */
  queues: Map<QueueName, Queue>;
  logger: Logger;
  now?: () => number;
}

/**
 * On start: a schedule whose newest due time passed without a run gets one run now, not one per
 * missed period. Nothing is enqueued when
 * - the scheduler's pending run is itself overdue (no worker was up): BullMQ runs it once a worker
 *   takes it, so a second run would be a duplicate. BullMQ has at times already written the next
 *   iteration (the scheduler's `next` then lies ahead) while the overdue one still waits, so the
 *   oldest waiting iterations are looked at too;
 * - the schedule was written after that due time (a new or changed schedule starts fresh);
 * - a run started at or after it (the overlap guard records each run), or the iteration BullMQ made
 *   for it still exists (workers that do not record runs);
 * - a catch-up for that due time exists already: its job id is fixed, so restarts never add more.
 */
export async function catchUpMissedRuns(
  schedules: readonly ConfiguredSchedule[],
  deps: CatchUpDeps,
): Promise<string[]> {
  const now = (deps.now ?? Date.now)();
  const records = await readScheduleRecords(deps.redis);
  const caughtUp: string[] = [];
  for (const { definition, pattern, tz } of schedules) {
    if (pattern === null) continue;
    const queue = deps.queues.get(definition.queue);
    const due = previousDueTime(pattern, tz, now);
    if (!queue || due === null) continue;
    const scheduler = await queue.getJobScheduler(definition.id);
    if (scheduler?.next !== undefined && scheduler.next <= now) continue;
    if (await hasOverdueIteration(queue, definition.id, now)) continue;
    if ((records.since.get(definition.id) ?? now) > due) continue;
    const last = records.lastRuns.get(definition.id);
    if (last && Date.parse(last.startedAt) >= due) continue;
    if (await queue.getJob(`repeat:${definition.id}:${due}`)) continue;
    const jobId = catchUpJobId(definition.id, due);
    if (await queue.getJob(jobId)) continue;
    await queue.add(definition.job, definition.data, { jobId });
    caughtUp.push(definition.id);
    deps.logger.info(
      {
        schedule: definition.id,
        jobId,
        due: new Date(due).toISOString(),
        lastRun: last?.startedAt ?? null,
      },
      'missed scheduled run: running it once now',
    );
  }
  return caughtUp;
}

/** An iteration of this scheduler, due at or before `now`, still waiting for a worker. */
async function hasOverdueIteration(queue: Queue, schedulerId: string, now: number): Promise<boolean> {
  const prefix = `repeat:${schedulerId}:`;
  // Oldest first; a scheduler's iterations are among the oldest waiting jobs when they are overdue.
  const jobs = await queue.getJobs(['delayed', 'waiting', 'paused', 'prioritized'], 0, 99, true);
  return jobs.some((job) => {
    if (!job?.id?.startsWith(prefix)) return false;
    const dueAt = Number(job.id.slice(prefix.length));
    return Number.isFinite(dueAt) && dueAt <= now;
  });
}
