import { bootWorker, createAllQueues } from '@datasync/runtime';
import { TimetableScheduler } from './scheduler.js';
import { type ConfiguredSchedule, configuredTimetable, TimetableError } from './timetable.js';

const { config, logger, connection, shutdownWith } = bootWorker('scheduler');

let schedules: ConfiguredSchedule[];
try {
  schedules = configuredTimetable(config);
} catch (error) {
  if (!(error instanceof TimetableError)) throw error;
  process.stderr.write(`scheduler: ${error.message}\n`);
  process.exit(78);
}

const queues = createAllQueues(connection, config);

const scheduler = new TimetableScheduler({ schedules, queues, redis: connection, logger });
shutdownWith([
  { name: 'scheduler', close: () => scheduler.close() },
  { name: 'queues', close: () => Promise.all([...queues.values()].map((q) => q.close())) },
]);
process.on('SIGHUP', () => {
  logger.info('SIGHUP: reconciling the timetable');
  void scheduler.reconcile({ catchUp: true }).catch((error: Error) => {
    logger.error({ err: error.message }, 'reconcile on SIGHUP failed');
  });
});

logger.info({ tz: config.SCHEDULE_TZ }, 'scheduler starting');
await scheduler.start();
logger.info('scheduler started');
