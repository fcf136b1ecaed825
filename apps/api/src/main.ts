import type { QueueName } from '@datasync/schemas';
import {
  checkRedisPolicy,
  createAllQueues,
  createLogger,
  createQueueEvents,
  createRedis,
  installShutdown,
  loadConfigOrExit,
} from '@datasync/runtime';
import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { buildApp } from './app.js';
import { loadApiKeys } from './auth/api-keys.js';
import type { ApiDeps } from './deps.js';

const config = loadConfigOrExit('api');
const logger = createLogger('api', { level: config.LOG_LEVEL, file: config.LOG_FILE });

let keys: ReturnType<typeof loadApiKeys>;
try {
  keys = loadApiKeys(config);
} catch (error) {
  process.stderr.write(`api: ${(error as Error).message}\n`);
  process.exit(78);
}
if (keys.generated.length > 0) {
  // Printed once, on the start that generated them; only their hashes are on disk.
  const lines = keys.generated.map((k) => `  ${k.name.padEnd(16)} scopes=${k.scopes.join('+').padEnd(9)} ${k.secret}`);
  process.stdout.write(
    `\nNo API keys were configured, so these were generated (shown once; hashes in ${keys.generatedFile}):\n${lines.join('\n')}\n\n`,
  );
}

const redis = createRedis(config.REDIS_URL, 'producer');
redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
const queues = createAllQueues(redis, config);
const eventConnections: Redis[] = [];
const events = new Map<QueueName, QueueEvents>();
const queueEvents = (name: QueueName) => {
  let qe = events.get(name);
  if (!qe) {
    const connection = createRedis(config.REDIS_URL, 'worker');
    eventConnections.push(connection);
    qe = createQueueEvents(name, connection);
    events.set(name, qe);
  }
  return qe;
};

const deps: ApiDeps = { config, redis, queues, queueEvents, keys: keys.store };
const app = await buildApp(deps, logger);
redis.once('ready', () => void checkRedisPolicy(redis, logger));

installShutdown(logger, [
  { name: 'http', close: () => app.close() },
  { name: 'queue-events', close: () => Promise.all([...events.values()].map((e) => e.close())) },
  { name: 'queues', close: () => Promise.all([...queues.values()].map((q) => q.close())) },
  { name: 'redis', close: () => [redis, ...eventConnections].forEach((r) => r.disconnect()) },
]);

await app.listen({ host: config.HOST, port: config.PORT });
const base = config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
logger.info({ url: base }, 'api listening');
process.stdout.write(`datasync api: ${base}  docs: ${base}/docs  Bull Board: ${base}/admin/queues\n`);
