import { packageTestConfig } from '../../vitest.shared.js';

// `pnpm --filter @datasync/e2e bench`: the dashboard benchmark (not part of npm test).
const config = packageTestConfig({ fileParallelism: false });
config.test!.include = ['bench/**/*-bench.ts'];
config.test!.testTimeout = 3_600_000;
config.test!.hookTimeout = 600_000;
// Timings: no rollup check (a full scan) in every commit.
config.test!.env = {};
export default config;
