import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * One test setup for every package: a real redis-server started for the run (see
 * tests/testkit/src/global-setup.ts), forks so DuckDB's native handles stay apart,
 * and timeouts that leave room for process kill-and-restart tests on a 2-core machine.
 */
export function packageTestConfig(options: { fileParallelism?: boolean } = {}) {
  return defineConfig({
    test: {
      globalSetup: [join(root, 'tests/testkit/dist/global-setup.js')],
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      pool: 'forks',
      fileParallelism: options.fileParallelism ?? true,
      maxWorkers: 2,
      testTimeout: 120_000,
      hookTimeout: 120_000,
      // Every write transaction checks that the daily rollup equals the sales (packages/db's
      // sales-rollup.ts); the processes the tests start inherit it.
      env: { DATASYNC_VERIFY_ROLLUP: '1' },
    },
  });
}
