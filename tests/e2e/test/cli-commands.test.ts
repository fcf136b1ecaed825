import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildApp, createApiDeps, loadApiKeys } from '@datasync/api';
import { waitForRedis } from '@datasync/runtime';
import { parseEnvConfig } from '@datasync/schemas';
import { isolatedRedisUrl, spawnNode, tempDir } from '@datasync/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', '..', 'apps', 'cli', 'dist', 'main.js');
const OPERATOR_KEY = 'operator-secret-0123456789';
let baseUrl = '';
let stop: () => Promise<void>;

beforeAll(async () => {
  const dir = tempDir('datasync-cli-');
  const config = parseEnvConfig({
    REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
    DATABASE_PATH: join(dir.path, 'db.duckdb'),
    IMPORT_DIR: join(dir.path, 'imports'),
    API_KEYS: `ops:operator:${OPERATOR_KEY}`,
  });
  const { deps, close } = createApiDeps(config, loadApiKeys(config).store);
  await waitForRedis(deps.redis);
  const app = await buildApp(deps);
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  stop = async () => {
    await app.close();
    await close();
    dir.cleanup();
  };
});
afterAll(() => stop());

async function datasync(args: string[], env: Record<string, string> = {}) {
  const p = spawnNode(CLI, { DATASYNC_URL: baseUrl, DATASYNC_API_KEY: OPERATOR_KEY, ...env }, args);
  const { code } = await p.exited();
  return { code, out: p.output() };
}

describe('the datasync CLI', () => {
  it('keys create prints a new key once with its API_KEYS_FILE entry (the key sha256)', async () => {
    const { code, out } = await datasync(['keys', 'create', 'shop-eu', '--scope', 'ingest', '--json']);
    expect(code).toBe(0);
    const { key, entry } = JSON.parse(out);
    expect(key).toMatch(/^ds_[A-Za-z0-9_-]{43}$/);
    expect(entry).toEqual({
      name: 'shop-eu',
      scopes: ['ingest'],
      sha256: createHash('sha256').update(key).digest('hex'),
    });
  });

  it('says so, and exits 3, when no worker listens on the queue instead of hanging', async () => {
    const { code, out } = await datasync(['backup']);
    expect(code).toBe(3);
    expect(out).toMatch(/no worker is listening on the backup queue/);
    const id = /job (\S+) is queued/.exec(out)?.[1];
    expect(id).toBeTruthy();
    const shown = await datasync(['jobs', id!]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/state\s+waiting/);
  });

  it('exits non-zero with the api problem for a bad key, a bad option or an unknown job', async () => {
    const badKey = await datasync(['jobs', 'x'], { DATASYNC_API_KEY: 'wrong-key-0123456789' });
    expect(badKey.code).toBe(1);
    expect(badKey.out).toMatch(/401 Unauthorized: invalid API key \(set DATASYNC_API_KEY/);
    const missing = await datasync(['jobs', 'no-such-job']);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/404 Not Found: no job no-such-job/);
    const usage = await datasync(['cleanup-backups', '--days', 'zero']);
    expect(usage.code).toBe(2);
    expect(usage.out).toMatch(/--days must be a whole number/);
    const unknown = await datasync(['launch']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/unknown command "launch"/);
  });

  it('says clearly when the api cannot be reached', async () => {
    const { code, out } = await datasync(['jobs', 'x'], { DATASYNC_URL: 'http://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(out).toMatch(/cannot reach the datasync api at http:\/\/127.0.0.1:1/);
  });
});
