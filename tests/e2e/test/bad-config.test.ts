import { join } from 'node:path';
import { spawnNode } from '@datasync/testkit';
import { describe, expect, it } from 'vitest';
import { ROOT } from './stack.js';

/** Each process boots through the one bootstrap (packages/runtime): a bad variable is exit 78 naming it. */
describe('a process started with a bad configuration', () => {
  it.each(['api', 'sync-worker', 'backup-worker', 'scheduler'])(
    '%s exits 78 (EX_CONFIG) naming the variable, before connecting anywhere',
    async (app) => {
      const child = spawnNode(join(ROOT, 'apps', app, 'dist', 'main.js'), {
        REDIS_URL: 'redis://127.0.0.1:1',
        WRITER_LOCK_LEASE_MS: 'soon',
      });
      const { code } = await child.exited();
      expect(code).toBe(78);
      expect(child.output()).toContain(`${app}: `);
      expect(child.output()).toMatch(/WRITER_LOCK_LEASE_MS/);
    },
  );
});
