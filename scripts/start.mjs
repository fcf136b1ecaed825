// `npm start`: installs what is missing, builds, and runs the whole stack on embedded defaults:
// a local redis-server (started here when REDIS_URL answers nothing), the api, sync-worker,
// backup-worker and scheduler, restarted when one dies (as a supervisor would), all stopped
// cleanly by Ctrl-C (a second Ctrl-C kills them).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import {
  ensurePnpm,
  ensureRedisServer,
  fail,
  installWorkspace,
  log,
  nodeVersionOk,
  ROOT,
  run,
} from './bootstrap.mjs';

nodeVersionOk();
const pnpm = ensurePnpm();
installWorkspace(pnpm);
log('building (turbo run build)');
run(pnpm, ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);

if (existsSync(join(ROOT, '.env'))) process.loadEnvFile(join(ROOT, '.env'));
const env = { ...process.env };
env.REDIS_URL ??= 'redis://127.0.0.1:6379';
env.DATABASE_PATH ??= './data/dashboard.duckdb';
env.BACKUP_DIR ??= './backups';
env.IMPORT_DIR ??= './data/imports';
env.PORT ??= '3000';
// DuckDB and argon2 share libuv's thread pool with everything else: give it room (duckdb-node-neo 325).
env.UV_THREADPOOL_SIZE ??= '16';
// Readable log lines for a person at a terminal, JSON for machines (LOG_FILE is always JSON). The
// apps' stdout is a pipe to this supervisor, so it decides for them from its own (LOG_FORMAT=auto).
if (!env.LOG_FORMAT?.trim() || env.LOG_FORMAT.trim() === 'auto') {
  env.LOG_FORMAT = process.stdout.isTTY && !env.CI ? 'pretty' : 'json';
}

// The test kit's redis-server starter (dev-only package, built with the rest above).
const { startLocalRedis } = await import(join(ROOT, 'tests/testkit/dist/local-redis.js'));

function answers(url) {
  return new Promise((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = net.connect({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(/PONG|NOAUTH/.test(d.toString()));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

let localRedis = null;
if (await answers(env.REDIS_URL)) {
  log(`using the Redis at ${new URL(env.REDIS_URL).host}`);
} else {
  const url = new URL(env.REDIS_URL);
  if (!['127.0.0.1', 'localhost', '::1'].includes(url.hostname)) {
    fail(
      `REDIS_URL=${url.protocol}//${url.host} answers nothing; start that Redis or unset REDIS_URL to get a local one`,
    );
  }
  ensureRedisServer();
  // Beside the DuckDB file (./data/redis by default), so one DATABASE_PATH moves all the state.
  const redisDir = join(dirname(resolve(ROOT, env.DATABASE_PATH)), 'redis');
  const shown = relative(ROOT, redisDir);
  log(
    `starting redis-server on ${url.host} (AOF, appendfsync always, noeviction; data in ${shown.startsWith('..') ? redisDir : `./${shown}`})`,
  );
  localRedis = await startLocalRedis({
    dir: redisDir,
    port: Number(url.port || 6379),
    appendfsync: 'always',
    detached: true,
  });
}

const APPS = ['api', 'sync-worker', 'backup-worker', 'scheduler'];
const COLORS = { api: 32, 'sync-worker': 35, 'backup-worker': 33, scheduler: 34 };
const children = new Map();
let stopping = false;

function startApp(name, attempt = 0) {
  const entry = join(ROOT, 'apps', name, 'dist', 'main.js');
  if (!existsSync(entry)) {
    log(`skipping ${name}: ${entry} was not built`);
    return;
  }
  // Own process group: a terminal's Ctrl-C reaches only this supervisor, which then stops each
  // process once with SIGTERM (a second signal would make them force-exit).
  const child = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const prefix = `\x1b[${COLORS[name]}m${name.padEnd(13)}\x1b[0m| `;
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
    });
  }
  const startedAt = Date.now();
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) return;
    const quick = Date.now() - startedAt < 10_000;
    const next = quick ? attempt + 1 : 0;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(next, 5));
    if (code === 78) {
      log(
        `${name} refused to start (exit 78): fix what it names above (a variable, or a database it did not create); not restarting it`,
      );
      return;
    }
    log(`${name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s`);
    setTimeout(() => startApp(name, next), delay).unref();
  });
  children.set(name, child);
}

for (const name of APPS) startApp(name);

const base = `http://localhost:${env.PORT}`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${base}/health`)).ok) break;
  } catch {
    // not up yet
  }
  await new Promise((r) => setTimeout(r, 200));
}
process.stdout.write(`
  \x1b[1mdatasync is running\x1b[0m
    Dashboard    ${base}/               (sign in with the operator key)
    API          ${base}
    Bull Board   ${base}/admin/queues   (any user name, an operator key as password)
    API docs     ${base}/docs           (OpenAPI: ${base}/openapi.json)
    Readiness    ${base}/ready
    Database     ${env.DATABASE_PATH}   Backups ${env.BACKUP_DIR}   Redis ${new URL(env.REDIS_URL).host}${localRedis ? ' (started here)' : ''}
  API keys: on the first start the api prints a generated ingest and operator key above (once);
  CLI: DATASYNC_API_KEY=<operator key> node apps/cli/dist/main.js --help
  Ctrl-C stops everything.

`);

async function stopAll(signal) {
  if (stopping) {
    log('second signal: killing everything');
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(130);
  }
  stopping = true;
  log(`stopping (${signal})`);
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  if (localRedis) await localRedis.stop();
  log('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stopAll('SIGINT'));
// Whatever ends this supervisor, its children do not outlive it.
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGKILL');
  localRedis?.process.kill('SIGTERM');
});
process.on('SIGTERM', () => void stopAll('SIGTERM'));
