import { join } from 'node:path';
import { spawnNode, startLocalRedis, tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { runCleanups } from './helpers.js';

afterEach(runCleanups);

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
/** Far below the 30 s a shutdown could hang for, generous for a loaded machine: "does not hang". */
const PROMPT_EXIT_MS = 12_000;

describe('stopping the scheduler while Redis is gone', () => {
  it('SIGTERM with Redis unreachable exits 0 promptly', async () => {
    const dir = tempDir('datasync-scheduler-shutdown-');
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    const child = spawnNode(MAIN, { REDIS_URL: redis.url, LOG_LEVEL: 'info' });
    try {
      await child.waitForOutput(/"msg":"scheduler started"/, 30_000);
      redis.process.kill('SIGKILL');
      await new Promise((r) => redis.process.once('exit', r));
      child.kill('SIGTERM');
      const exit = await Promise.race([
        child.exited(),
        new Promise<null>((r) => setTimeout(() => r(null), PROMPT_EXIT_MS)),
      ]);
      expect(exit, `still running ${PROMPT_EXIT_MS} ms after SIGTERM`).not.toBeNull();
      expect(exit!.code).toBe(0);
      expect(child.output()).toMatch(/"msg":"stopped"/);
    } finally {
      child.kill('SIGKILL');
      await redis.stop();
      dir.cleanup();
    }
  });
});
