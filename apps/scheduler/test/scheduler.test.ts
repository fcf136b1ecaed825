import { setTimeout as delay } from 'node:timers/promises';
import { CronExpressionParser } from 'cron-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { countTimetable, makeRedis, runCleanups, runScheduler, startScheduler } from './helpers.js';

afterEach(runCleanups);

const DEFAULT_IDS = ['backup', 'backup-cleanup', 'health-check', 'sales-sync', 'verify-backup'];

describe('the scheduler process', () => {
  it('restarted five times (stopped and killed) and crash-looped, the timetable stays five schedulers with one pending run each', async () => {
    const { url, queues } = await makeRedis();
    for (let round = 0; round < 5; round++) {
      const child = await startScheduler(url, { SCHEDULE_TZ: 'Europe/Berlin' });
      child.kill(round % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
      const exit = await child.exited();
      if (round % 2 === 0) expect(exit.code).toBe(0);
    }
    // A crash loop: killed at whatever point of its start it has reached.
    for (const afterMs of [50, 250, 400]) {
      const child = runScheduler(url, { SCHEDULE_TZ: 'Europe/Berlin' });
      await delay(afterMs);
      child.kill('SIGKILL');
      await child.exited();
    }
    (await startScheduler(url, { SCHEDULE_TZ: 'Europe/Berlin' })).kill();
    const { schedulers, pending } = await countTimetable(queues);
    expect(schedulers.map((s) => s.id).sort()).toEqual(DEFAULT_IDS);
    expect(pending).toHaveLength(5);
    expect(pending.map((p) => p.schedule).sort()).toEqual(DEFAULT_IDS);
    // Each in the configured zone: the next sales sync is 02:00 in Berlin, not on the host's clock.
    const sync = schedulers.find((s) => s.id === 'sales-sync')!;
    expect(sync).toMatchObject({ queue: 'sales-sync', pattern: '0 2 * * *', tz: 'Europe/Berlin' });
    const expected = CronExpressionParser.parse('0 2 * * *', { tz: 'Europe/Berlin' }).next().getTime();
    expect(sync.next).toBe(expected);
    expect(new Date(sync.next!).toLocaleTimeString('en-GB', { timeZone: 'Europe/Berlin' })).toBe('02:00:00');
  });

  it('two replicas starting at once write the timetable once', async () => {
    const { url, queues } = await makeRedis();
    const [a, b] = await Promise.all([startScheduler(url), startScheduler(url)]);
    const { schedulers, pending } = await countTimetable(queues);
    expect(schedulers.map((s) => s.id).sort()).toEqual(DEFAULT_IDS);
    expect(pending).toHaveLength(5);
    a!.kill();
    b!.kill();
    await Promise.all([a!.exited(), b!.exited()]);
  });

  it('a schedule set to off or no longer configured is removed with its pending run; a changed one is rewritten', async () => {
    const { url, queues } = await makeRedis();
    const first = await startScheduler(url);
    first.kill();
    await first.exited();
    await queues.get('reports')!.upsertJobScheduler('old-report', { pattern: '0 6 * * *', tz: 'UTC' });
    const second = await startScheduler(url, {
      SCHEDULE_BACKUP_CLEANUP: 'off',
      SCHEDULE_BACKUP: '30 3 * * *',
    });
    expect(second.output()).toMatch(/"removed":\["old-report"\]/);
    const { schedulers, pending } = await countTimetable(queues);
    expect(schedulers.map((s) => s.id).sort()).toEqual([
      'backup',
      'health-check',
      'sales-sync',
      'verify-backup',
    ]);
    expect(pending.map((p) => p.schedule).sort()).toEqual([
      'backup',
      'health-check',
      'sales-sync',
      'verify-backup',
    ]);
    const backup = schedulers.find((s) => s.id === 'backup')!;
    expect(backup.pattern).toBe('30 3 * * *');
    expect(new Date(backup.next!).toISOString()).toMatch(/T03:30:00\.000Z$/);
    second.kill();
    await second.exited();
  });

  it('refuses a cron expression it cannot parse, naming the variable', async () => {
    const { url, queues } = await makeRedis();
    const child = runScheduler(url, { SCHEDULE_HEALTH_CHECK: '0 25 * * *' });
    expect((await child.exited()).code).toBe(78);
    expect(child.output()).toMatch(/SCHEDULE_HEALTH_CHECK="0 25 \* \* \*": .*range/);
    expect((await countTimetable(queues)).schedulers).toHaveLength(0);
  });
});
