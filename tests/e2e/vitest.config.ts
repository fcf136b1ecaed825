import { packageTestConfig } from '../../vitest.shared.js';

// Each file runs a whole stack (four processes and a redis-server): one at a time on 2 cores.
export default packageTestConfig({ fileParallelism: false });
