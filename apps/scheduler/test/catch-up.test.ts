import { setTimeout as delay } from 'node:timers/promises';
import { beginScheduledRun, catchUpJobId, SCHEDULE_KEYS } from '@datasync/runtime';
import { parseEnvConfig, QUEUES } from '@datasync/schemas';
import { type Job, Worker } from 'bullmq';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { reconcileTimetable } from '../src/reconcile.js';
import { configuredTimetable, previousDueTime } from '../src/timetable.js';
import { countTimetable, makeRedis, runCleanups } from './helpers.js';

afterEach(runCleanups);

const logger = pino({ level: 'silent' });
const DAY = 86_400_000;

async function setup(env: Record<string, string> = {}) {
  const { redis, queues } = await makeRedis();
  const schedules = configuredTimetable(parseEnvConfig(env));
  const start = () => reconcileTimetable(schedules, { redis, queues, logger }, { catchUp: true });
  return { redis, queues, schedules, start };
}

describe('catch-up on start', () => {
  it('a schedule whose last run is older than its due time runs once, however often the scheduler restarts', async () => {
    const { redis, queues, start } = await setup();
    expect((await start()).caughtUp).toEqual([]); // a new timetable starts fresh: nothing to catch up
    // The backup schedule has existed for days; its last run was two days ago.
    await redis.hset(SCHEDULE_KEYS.since, 'backup', Date.now() - 5 * DAY);
    await redis.hset(
      SCHEDULE_KEYS.lastRun,
      'backup',
      JSON.stringify({ jobId: 'old', startedAt: new Date(Date.now() - 2 * DAY).toISOString() }),
    );
    const reports = [];
    for (let i = 0; i < 5; i++) reports.push(await start());
    expect(reports[0]!.caughtUp).toEqual(['backup']);
    expect(reports.slice(1).every((r) => r.caughtUp.length === 0)).toBe(true);
    const due = previousDueTime('0 3 * * *', 'UTC', Date.now())!;
    const { pending } = await countTimetable(queues);
    expect(pending.filter((p) => p.id.startsWith('catchup-'))).toEqual([
      { id: catchUpJobId('backup', due), queue: 'backup', schedule: null },
    ]);
    expect(pending.filter((p) => p.schedule !== null)).toHaveLength(5);
  });

  it('runs the catch-up through the overlap guard, which records it as the last run', async () => {
    const { redis, queues, start } = await setup();
    await start();
    await redis.hset(SCHEDULE_KEYS.since, 'health-check', Date.now() - 5 * DAY);
    expect((await start()).caughtUp).toEqual(['health-check']);
    const ran: string[] = [];
    const worker = new Worker(
      QUEUES.health,
      async (job: Job) => {
        if (await beginScheduledRun(job, { redis })) return { skipped: true };
        ran.push(job.id!);
        return { status: 'ok' };
      },
      { connection: redis, prefix: 'datasync' },
    );
    await new Promise<void>((resolve) => worker.on('completed', () => resolve()));
    await worker.close();
    expect(ran).toHaveLength(1);
    // Restarted after that run: nothing more to catch up.
    expect((await start()).caughtUp).toEqual([]);
    expect((await countTimetable(queues)).pending.filter((p) => p.id.startsWith('catchup-'))).toEqual([]);
  });

  it('does not add a run when the pending scheduled run is itself overdue (no worker was up)', async () => {
    const { redis, queues, start } = await setup({ SCHEDULE_HEALTH_CHECK: '* * * * * *' });
    await start();
    await redis.hset(SCHEDULE_KEYS.since, 'health-check', Date.now() - 5 * DAY);
    await delay(1_500);
    const [scheduler] = await queues.get(QUEUES.health)!.getJobSchedulers();
    expect(scheduler!.next).toBeLessThan(Date.now());
    expect((await start()).caughtUp).toEqual([]);
    // Only the scheduler's own iterations wait (on a loaded machine BullMQ has at times held the
    // next one already: a CI run saw two); no catch-up run was added beside them.
    const pending = (await countTimetable(queues)).pending.filter((p) => p.queue === 'health');
    expect(pending.length).toBeGreaterThanOrEqual(1);
    expect(pending.filter((p) => p.schedule !== 'health-check')).toEqual([]);
    expect(pending.filter((p) => p.id.startsWith('catchup-'))).toEqual([]);
  });

  it('does not add a run when an overdue iteration waits while the scheduler already points at the next', async () => {
    const { redis, queues, start } = await setup({ SCHEDULE_HEALTH_CHECK: '* * * * * *' });
    await start();
    await redis.hset(SCHEDULE_KEYS.since, 'health-check', Date.now() - 5 * DAY);
    await delay(1_500);
    const queue = queues.get(QUEUES.health)!;
    const [overdue] = (await queue.getJobs(['delayed'])).filter((j) =>
      j.id!.startsWith('repeat:health-check:'),
    );
    expect(Number(overdue!.id!.split(':').pop())).toBeLessThan(Date.now());
    // What a loaded CI run showed: the scheduler's next lies ahead while the overdue run still waits.
    await redis.zadd(`datasync:${QUEUES.health}:repeat`, Date.now() + 60_000, 'health-check');
    expect((await queue.getJobScheduler('health-check'))!.next).toBeGreaterThan(Date.now());
    expect((await start()).caughtUp).toEqual([]);
    expect((await countTimetable(queues)).pending.filter((p) => p.id.startsWith('catchup-'))).toEqual([]);
  });

  it('a reconcile that outlasts a due time (a loaded host) does not count it as missed by a schedule it writes', async () => {
    const { redis, queues, schedules } = await setup({ SCHEDULE_HEALTH_CHECK: '* * * * * *' });
    // The write of the schedule comes more than a second after the reconcile began.
    const health = queues.get(QUEUES.health)!;
    const upsert = health.upsertJobScheduler.bind(health);
    health.upsertJobScheduler = async (...args: Parameters<typeof upsert>) => {
      await delay(1_100);
      return upsert(...args);
    };
    const report = await reconcileTimetable(schedules, { redis, queues, logger }, { catchUp: true });
    expect(report.created).toContain('health-check');
    expect(report.caughtUp).toEqual([]);
    expect((await countTimetable(queues)).pending.filter((p) => p.id.startsWith('catchup-'))).toEqual([]);
  });
});
