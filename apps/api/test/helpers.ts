import { join } from 'node:path';
import { waitForRedis } from '@datasync/runtime';
import { parseEnvConfig } from '@datasync/schemas';
import { isolatedRedisUrl, tempDir, testSale } from '@datasync/testkit';
import { inject } from 'vitest';
import { buildApp, createApiDeps, loadApiKeys } from '../src/index.js';

export const INGEST_KEY = 'ingest-secret-0123456789';
export const OPERATOR_KEY = 'operator-secret-0123456789';
export const BOTH_KEY = 'both-secret-0123456789abc';

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** The api built in-process on its own Redis database and temp folders. */
export async function makeApi(env: Record<string, string> = {}) {
  const redisUrl = await isolatedRedisUrl(inject('redisUrl'));
  const dir = tempDir('datasync-api-');
  const config = parseEnvConfig({
    REDIS_URL: redisUrl,
    DATABASE_PATH: join(dir.path, 'data', 'db.duckdb'),
    IMPORT_DIR: join(dir.path, 'imports'),
    BACKUP_DIR: join(dir.path, 'backups'),
    API_KEYS: `shop:ingest:${INGEST_KEY},ops:operator:${OPERATOR_KEY},both:ingest+operator:${BOTH_KEY}`,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const { deps, close } = createApiDeps(config, loadApiKeys(config).store);
  await waitForRedis(deps.redis);
  const app = await buildApp(deps);
  return {
    app,
    deps,
    config,
    redisUrl,
    dir: dir.path,
    close: async () => {
      await app.close();
      await close();
      dir.cleanup();
    },
  };
}

export function sale(i: number, overrides: Record<string, unknown> = {}) {
  return { ...testSale(i), ...overrides };
}

export const sales = (n: number, start = 0) => Array.from({ length: n }, (_, k) => sale(start + k));
