// Docker HEALTHCHECK for every datasync container (plain Node, no dependencies).
// - api: GET /health on PORT answers 200.
// - workers and the scheduler have no HTTP port: healthy while the process (PID 1, or the one
//   named by the first argument) holds an ESTABLISHED TCP connection to REDIS_URL's port. A worker
//   that lost Redis for good, or never reached it, turns unhealthy; a worker BullMQ is reconnecting
//   shows as unhealthy only after --retries failed checks.
// Usage: node healthcheck.mjs [api|redis-client]   (default: guessed from PID 1's command line)
import { readFileSync } from 'node:fs';

const env = process.env;

function modeFromCommandLine() {
  try {
    const cmdline = readFileSync('/proc/1/cmdline', 'utf8').split('\0').join(' ');
    return cmdline.includes('apps/api/') ? 'api' : 'redis-client';
  } catch {
    return 'api';
  }
}

async function checkApi() {
  const port = Number(env.PORT || 3000);
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) throw new Error(`GET /health answered ${response.status}`);
}

function checkRedisConnection() {
  const url = new URL(env.REDIS_URL || 'redis://127.0.0.1:6379');
  const port = Number(url.port || 6379)
    .toString(16)
    .toUpperCase()
    .padStart(4, '0');
  // /proc/net/tcp lists the network namespace's sockets: in a container that is this process's.
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const remote = fields[2] ?? '';
      const state = fields[3];
      if (state === '01' && remote.endsWith(`:${port}`)) return;
    }
  }
  throw new Error(`no established connection to Redis port ${Number.parseInt(port, 16)}`);
}

const mode = process.argv[2] ?? modeFromCommandLine();
try {
  if (mode === 'api') await checkApi();
  else checkRedisConnection();
  process.exit(0);
} catch (error) {
  process.stderr.write(`unhealthy (${mode}): ${error.message}\n`);
  process.exit(1);
}
