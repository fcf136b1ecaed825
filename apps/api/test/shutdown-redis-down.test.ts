import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, spawnNode, startLocalRedis, tempDir } from '@datasync/testkit';
import { describe, expect, it } from 'vitest';
import { INGEST_KEY } from './helpers.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
/** Far below the 30 s a shutdown could hang for, generous for a loaded machine: "does not hang". */
const PROMPT_EXIT_MS = 12_000;

describe('stopping the api while Redis is gone', () => {
  it('SIGTERM with Redis unreachable, a ?wait=true request open, exits 0 promptly', async () => {
    const dir = tempDir('datasync-api-shutdown-');
    const redis = await startLocalRedis({ dir: join(dir.path, 'redis') });
    const port = await freePort();
    const child = spawnNode(MAIN, {
      REDIS_URL: redis.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      API_KEYS: `shop:ingest:${INGEST_KEY}`,
      IMPORT_DIR: join(dir.path, 'imports'),
      LOG_LEVEL: 'info',
    });
    try {
      await child.waitForOutput(/api listening/, 30_000);
      // No worker: this request waits for a commit that will not come while the api stops.
      const waiting = fetch(`http://127.0.0.1:${port}/v1/sales/batches?wait=true`, {
        method: 'POST',
        headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify([
          {
            date: '2026-01-15',
            user_id: 1,
            product_name: 'P',
            quantity: 1,
            unit_price: '1.00',
            total_amount: '1.00',
            region: 'EU',
          },
        ]),
      }).catch((error: Error) => error);
      await delay(500);
      redis.process.kill('SIGKILL');
      await new Promise((r) => redis.process.once('exit', r));
      child.kill('SIGTERM');
      const exit = await Promise.race([
        child.exited(),
        new Promise<null>((r) => setTimeout(() => r(null), PROMPT_EXIT_MS)),
      ]);
      expect(
        exit,
        `still running ${PROMPT_EXIT_MS} ms after SIGTERM:\n${child.output().slice(-2000)}`,
      ).not.toBeNull();
      expect(exit!.code).toBe(0);
      expect(child.output()).toMatch(/"msg":"stopped"/);
      await waiting;
    } finally {
      child.kill('SIGKILL');
      await redis.stop();
      dir.cleanup();
    }
  });
});
