import { join } from 'node:path';
import { spawnNode, startLocalRedis, tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, inject, it } from 'vitest';

const APP = join(import.meta.dirname, 'fixtures', 'shutdown-app.mjs');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function start(env: Record<string, string>) {
  const app = spawnNode(APP, { LOG_LEVEL: 'info', ...env });
  cleanups.push(() => app.kill('SIGKILL'));
  return app;
}

describe('the shared shutdown', () => {
  it('with Redis gone, skips the part waiting on it, still closes the local part, and exits 0', async () => {
    const dir = tempDir('datasync-shutdown-');
    cleanups.push(dir.cleanup);
    const redis = await startLocalRedis({ dir: dir.path });
    cleanups.push(() => redis.stop());
    const app = start({ REDIS_URL: redis.url });
    await app.waitForOutput(/^ready$/m);
    redis.process.kill('SIGKILL');
    await new Promise((r) => redis.process.once('exit', r));
    app.kill('SIGTERM');
    const exit = await app.exited();
    expect(exit.code).toBe(0);
    expect(app.output()).toMatch(/^database closed$/m);
    expect(app.output()).toMatch(/"notWaitedFor":\["waits on redis","redis"\],"msg":"stopped"/);
  });

  it('a connection error thrown while tearing down is logged, not a crash; any other error still exits 1', async () => {
    const quiet = start({ REDIS_URL: inject('redisUrl'), MODE: 'teardown-error' });
    await quiet.waitForOutput(/^ready$/m);
    quiet.kill('SIGTERM');
    expect((await quiet.exited()).code).toBe(0);
    expect(quiet.output()).toMatch(/connection error while shutting down: ignored/);
    expect(quiet.output()).toMatch(/^database closed$/m);

    const loud = start({ REDIS_URL: inject('redisUrl'), MODE: 'teardown-error', ERROR_CODE: 'none' });
    await loud.waitForOutput(/^ready$/m);
    loud.kill('SIGTERM');
    expect((await loud.exited()).code).toBe(1);
    expect(loud.output()).toMatch(/uncaught error while shutting down/);
  });

  it('a second signal forces exit 130 while the first shutdown still waits', async () => {
    const dir = tempDir('datasync-shutdown-');
    cleanups.push(dir.cleanup);
    const redis = await startLocalRedis({ dir: dir.path });
    cleanups.push(() => redis.stop());
    const app = start({ REDIS_URL: redis.url });
    await app.waitForOutput(/^ready$/m);
    redis.process.kill('SIGKILL');
    await new Promise((r) => redis.process.once('exit', r));
    app.kill('SIGTERM');
    await app.waitForOutput(/"msg":"shutting down"/);
    app.kill('SIGTERM');
    expect((await app.exited()).code).toBe(130);
    expect(app.output()).toMatch(/second signal: forcing exit/);
    expect(app.output()).not.toMatch(/^database closed$/m);
  });
});
