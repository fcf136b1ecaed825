import { bootProcess, checkRedisPolicy, installShutdown, waitForRedis } from '@datasync/runtime';
import { ConfigError } from '@datasync/schemas';
import { buildApp } from './app.js';
import { loadApiKeys } from './auth/api-keys.js';
import { createApiDeps } from './deps.js';

// Not bootWorker: the api's Redis client fails fast (503) instead of queueing commands (deps.ts).
const { config, logger } = bootProcess('api');

let keys: ReturnType<typeof loadApiKeys>;
try {
  keys = loadApiKeys(config);
} catch (error) {
  process.stderr.write(`api: ${(error as Error).message}\n`);
  process.exit(78);
}
if (keys.generated.length > 0) {
  // Printed once, on the start that generated them; only their hashes are on disk.
  const lines = keys.generated.map(
    (k) => `  ${k.name.padEnd(16)} scopes=${k.scopes.join('+').padEnd(9)} ${k.secret}`,
  );
  process.stdout.write(
    `\nNo API keys were configured, so these were generated (shown once; hashes in ${keys.generatedFile}):\n${lines.join('\n')}\n\n`,
  );
}

const { deps, close, eventsReady } = createApiDeps(config, keys.store);
let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp(deps, logger);
} catch (error) {
  // A file a variable names that cannot be read (LDAP_TLS_CA): said once, no stack.
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`api: ${error.message}\n`);
  process.exit(78);
}
if (deps.redis.status === 'ready') void checkRedisPolicy(deps.redis, logger);
else deps.redis.once('ready', () => void checkRedisPolicy(deps.redis, logger));

installShutdown(
  logger,
  [
    { name: 'http', close: () => app.close() },
    { name: 'queues and redis', close },
  ],
  { redis: [deps.redis] },
);

// Listen even when Redis is down (requests then get 503 + Retry-After), but give it a moment first.
await waitForRedis(deps.redis, 5_000)
  .then(() => eventsReady())
  .catch(() => logger.warn('Redis does not answer yet: answering 503 until it does'));
await app.listen({ host: config.HOST, port: config.PORT });
const base = config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
logger.info({ url: base }, 'api listening');
process.stdout.write(`datasync api: ${base}  docs: ${base}/docs  Bull Board: ${base}/admin/queues\n`);
