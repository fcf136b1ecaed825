import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalRedis } from './local-redis.js';
import './index.js';

/**
 * Vitest global setup: a real redis-server of the suite's own on a free loopback port, stopped
 * (and its folder removed) when the run ends. Tests read its URL with `inject('redisUrl')` and
 * isolate themselves with their own key prefix or a flushed logical database.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-test-redis-'));
  const redis = await startLocalRedis({ dir, appendfsync: 'everysec', databases: 1000 });
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
