import {
  checkRedisPolicy,
  createAllQueues,
  createLogger,
  createRedis,
  disconnectAll,
  installShutdown,
  loadConfigOrExit,
} from '@datasync/runtime';
import { TimetableScheduler } from './scheduler.js';
import { type ConfiguredSchedule, configuredTimetable, TimetableError } from './timetable.js';

const config = loadConfigOrExit('scheduler');
const logger = createLogger('scheduler', {
  level: config.LOG_LEVEL,
  file: config.LOG_FILE,
  format: config.LOG_FORMAT,
});

let schedules: ConfiguredSchedule[];
try {
  schedules = configuredTimetable(config);
} catch (error) {
  if (!(error instanceof TimetableError)) throw error;
  process.stderr.write(`scheduler: ${error.message}\n`);
  process.exit(78);
}

const connection = createRedis(config.REDIS_URL, 'worker');
connection.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
connection.once('ready', () => void checkRedisPolicy(connection, logger));
const queues = createAllQueues(connection, config);

const scheduler = new TimetableScheduler({ schedules, queues, redis: connection, logger });
installShutdown(
  logger,
  [
    { name: 'scheduler', close: () => scheduler.close() },
    { name: 'queues', close: () => Promise.all([...queues.values()].map((q) => q.close())) },
    { name: 'redis', close: () => disconnectAll([connection]) },
  ],
  { redis: [connection] },
);
process.on('SIGHUP', () => {
  logger.info('SIGHUP: reconciling the timetable');
  void scheduler.reconcile({ catchUp: true }).catch((error: Error) => {
    logger.error({ err: error.message }, 'reconcile on SIGHUP failed');
  });
});

logger.info({ tz: config.SCHEDULE_TZ }, 'scheduler starting');
await scheduler.start();
logger.info('scheduler started');
