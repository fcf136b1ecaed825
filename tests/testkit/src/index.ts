import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from 'vitest';

export * from './local-redis.js';
export * from './local-slapd.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's own redis-server (see global-setup.ts). */
    redisUrl: string;
  }
}

/**
 * A Redis logical database of its own for one test (file): the suite's tests share one
 * redis-server, and BullMQ queue names are fixed, so each test isolates itself by database.
 */
export async function isolatedRedisUrl(baseUrl: string): Promise<string> {
  const { Redis } = await import('ioredis');
  const admin = new Redis(baseUrl, { maxRetriesPerRequest: 1 });
  try {
    const n = await admin.incr('datasync-test:next-db');
    const url = `${baseUrl}/${(n % 999) + 1}`;
    const db = new Redis(url, { maxRetriesPerRequest: 1 });
    await db.flushdb();
    db.disconnect();
    return url;
  } finally {
    admin.disconnect();
  }
}

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = 'datasync-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** A child process of ours (a worker, the api) with its output kept for assertions. */
export interface SpawnedProcess {
  child: ChildProcess;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnNode(script: string, env: Record<string, string>, args: string[] = []): SpawnedProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    output: () => out,
    waitForOutput: (pattern, timeoutMs = 20_000) =>
      waitFor(() => pattern.test(out), { timeoutMs, what: `output ${pattern}` }).then(() => undefined),
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited: () => exit,
  };
}

/** A valid sale in the upstream format, varied by `i` (money as exact decimal text). */
export function testSale(i: number) {
  const quantity = (i % 5) + 1;
  const cents = 1000 + (i % 997);
  return {
    date: '2026-01-15',
    user_id: (i % 100) + 1,
    product_name: `Product ${i % 50}`,
    quantity,
    unit_price: (cents / 100).toFixed(2),
    total_amount: ((cents * quantity) / 100).toFixed(2),
    region: ['EU', 'NA', 'APAC'][i % 3] as string,
  };
}

/** Exact sum of total_amount of some records, as DuckDB prints a DECIMAL sum. */
export function sumOfTotals(records: readonly { total_amount: string }[]): string {
  const cents = records.reduce((sum, r) => sum + BigInt(Math.round(Number(r.total_amount) * 100)), 0n);
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}
export * from './local-mariadb.js';
export * from './local-postgres.js';
