import { type LastRun, readScheduleRecords } from '@datasync/runtime';
import { Problem, type ScheduleInfo, type ScheduleRun, SchedulesBody, TIMETABLE } from '@datasync/schemas';
import type { JobSchedulerJson, Queue } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type ApiDeps, queueOf } from '../deps.js';

async function lastRunOf(queue: Queue, last: LastRun | undefined): Promise<ScheduleRun | null> {
  if (!last) return null;
  const job = await queue.getJob(last.jobId);
  return {
    jobId: last.jobId,
    startedAt: last.startedAt,
    state: job ? await job.getState() : null,
    finishedAt: job?.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

/** The timetable as Redis holds it: the job schedulers the scheduler wrote, and each one's runs. */
export async function listSchedules(deps: ApiDeps): Promise<SchedulesBody> {
  const records = await readScheduleRecords(deps.redis);
  const found = new Map<string, JobSchedulerJson>();
  const unknown: SchedulesBody['unknown'] = [];
  for (const [name, queue] of deps.queues) {
    for (const scheduler of await queue.getJobSchedulers(0, -1, true)) {
      const known = TIMETABLE.some((d) => d.id === scheduler.key && d.queue === name);
      if (known) found.set(scheduler.key, scheduler);
      else unknown.push({ id: scheduler.key, queue: name });
    }
  }
  const schedules: ScheduleInfo[] = [];
  for (const definition of TIMETABLE) {
    const scheduler = found.get(definition.id);
    schedules.push({
      id: definition.id,
      job: definition.job,
      queue: definition.queue,
      description: definition.description,
      variable: definition.variable,
      enabled: scheduler !== undefined,
      cron: scheduler?.pattern ?? null,
      tz: scheduler?.tz ?? null,
      nextRun: scheduler?.next ? new Date(scheduler.next).toISOString() : null,
      lastRun: await lastRunOf(queueOf(deps, definition.queue), records.lastRuns.get(definition.id)),
      skippedRuns: records.skips.get(definition.id) ?? 0,
    });
  }
  return { schedules, unknown };
}

/** `GET /v1/schedules`: read straight from Redis through the queues (no worker, no DuckDB). */
export const schedulesRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/schedules',
    {
      schema: {
        summary: 'The timetable: each schedule with its cron, time zone, next run and last run',
        description:
          'What the scheduler wrote into Redis. `enabled: false` means no job scheduler exists for it: its variable is `off`, or the scheduler has not run yet. Times are ISO 8601 in UTC; `tz` is the zone the cron expression is read in.',
        tags: ['schedules'],
        security: [{ bearer: [] }],
        response: { 200: SchedulesBody, 401: Problem, 403: Problem, 503: Problem },
      },
    },
    async () => listSchedules(deps),
  );
};
