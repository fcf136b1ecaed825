import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/**
 * Starts a `redis-server` of our own: for `npm start` when REDIS_URL answers nothing, and for the
 * test suite. AOF with `appendfsync always`, so an accepted batch (202) survives a Redis crash,
 * and `noeviction`, BullMQ's requirement.
 */
export interface LocalRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  dir: string;
  port?: number;
  appendfsync?: 'always' | 'everysec' | 'no';
  quiet?: boolean;
  /** Logical databases (Redis default 16); the test suite gives each test file its own. */
  databases?: number;
  detached?: boolean;
}

export function redisServerPath(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startLocalRedis(options: LocalRedisOptions): Promise<LocalRedis> {
  const bin = redisServerPath();
  if (!bin) {
    throw new Error(
      'redis-server is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y redis-server; or point REDIS_URL at a running Redis.',
    );
  }
  mkdirSync(options.dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      options.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      options.appendfsync ?? 'always',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--protected-mode',
      'yes',
      '--databases',
      String(options.databases ?? 16),
    ],
    // detached: its own process group, so a terminal's Ctrl-C reaches only our supervisor, which
    // stops Redis last, after the processes that use it.
    { stdio: options.quiet === false ? 'inherit' : 'ignore', detached: options.detached ?? false },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused until the server is up: expected while polling
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`redis-server exited with code ${child.exitCode} on port ${port}`);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() - started > 10_000) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not answer on port ${port} within 10 s`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  return {
    url,
    port,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
