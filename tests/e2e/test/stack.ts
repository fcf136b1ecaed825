import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, tempDir, waitFor } from '@datasync/testkit';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const CLI = join(ROOT, 'apps', 'cli', 'dist', 'main.js');

/**
 * The whole stack started the way `npm start` starts it: `node scripts/start.mjs` (install check,
 * build, its own redis-server because REDIS_URL answers nothing, the four apps under the real
 * supervisor), only pointed at a temp folder and free ports through the documented variables.
 */
export interface Stack {
  port: number;
  base: string;
  dir: string;
  redisPort: number;
  keys: { ingest: string; operator: string };
  /** Everything the supervisor printed so far (pty output with \r removed). */
  output(): string;
  /** Ctrl-C: SIGINT to the supervisor's process group (a pty's ^C when started on one). */
  stop(): Promise<StopResult>;
  cleanup(): Promise<void>;
}

export interface StopResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The stack's processes seen while it ran (supervisor, apps, redis-server): pid and command. */
  processes: string[];
  /** Those still alive after the supervisor exited. */
  survivors: string[];
  redisAnswers: boolean;
}

/** The environment of a user's terminal: none of vitest's or a CI's variables. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VITEST|NODE_ENV$|CI$|TURBO_|FORCE_COLOR$|NO_COLOR$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** The stack's processes: the one we spawned and its descendants, found by parent pid. */
function descendants(root: number): Map<number, string> {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const rows = table
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  const found = new Map<number, string>();
  const self = rows.find((row) => row.pid === root);
  if (self) found.set(root, self.args);
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const row of rows) {
      if (row.ppid === parent && !found.has(row.pid)) {
        found.set(row.pid, row.args);
        queue.push(row.pid);
      }
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface StackOptions {
  pty?: boolean;
  env?: Record<string, string>;
  /** Also set LOG_FILE to a file in the stack's folder (every app appends its JSON lines there). */
  logFile?: boolean;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = tempDir('datasync-e2e-');
  const port = await freePort();
  const redisPort = await freePort(); // nothing answers there: the supervisor starts its own
  const env = userEnv({
    // A developer's .env never overrides what is set, even empty: what the tests rely on is set.
    API_KEYS: '',
    API_KEYS_FILE: '',
    LOG_LEVEL: 'info',
    LOG_FORMAT: '',
    LOG_FILE: '',
    SALES_API_URL: '',
    SALES_API_KEY: '',
    AWS_S3_BACKUP_BUCKET: '',
    DATABASE_PATH: join(dir.path, 'data', 'dashboard.duckdb'),
    BACKUP_DIR: join(dir.path, 'backups'),
    IMPORT_DIR: join(dir.path, 'data', 'imports'),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    PORT: String(port),
    HOST: '127.0.0.1',
    ...(options.logFile ? { LOG_FILE: join(dir.path, 'logs', 'datasync.log') } : {}),
    ...options.env,
  });
  const node = process.execPath;
  // On a pty (util-linux `script`), the supervisor sees a terminal as a person's `npm start` does;
  // writing ^C to it is a Ctrl-C. Otherwise its own process group gets the SIGINT.
  const child: ChildProcess = options.pty
    ? // `exec`: the shell `script` starts (dash on Debian) would itself die of the ^C's SIGINT and
      // report 130, whatever the supervisor's own exit code.
      spawn('script', ['-qefc', `exec ${JSON.stringify(node)} scripts/start.mjs`, '/dev/null'], {
        cwd: ROOT,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      })
    : spawn(node, ['scripts/start.mjs'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString().replace(/\r/g, '');
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString().replace(/\r/g, '');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pids = new Map<number, string>();
  const remember = () => {
    if (child.pid && child.exitCode === null) for (const [p, a] of descendants(child.pid)) pids.set(p, a);
  };
  let stopped: Promise<StopResult> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      remember();
      if (child.exitCode === null && child.signalCode === null) {
        if (options.pty) child.stdin?.write('\x03');
        else process.kill(-child.pid!, 'SIGINT');
      }
      const result = await exited;
      // The apps are reparented when the supervisor exits: give a straggler a moment to show itself.
      await delay(200);
      const processes = [...pids].map(([pid, args]) => `${pid} ${args}`);
      const survivors = [...pids].filter(([pid]) => alive(pid)).map(([pid, args]) => `${pid} ${args}`);
      return { ...result, processes, survivors, redisAnswers: await redisAnswers(redisPort) };
    })();
    return stopped;
  };
  const cleanup = async () => {
    await Promise.race([stop(), delay(30_000)]);
    for (const pid of pids.keys()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    dir.cleanup();
  };
  try {
    await waitFor(() => /datasync is running/.test(out) || child.exitCode !== null, {
      timeoutMs: 120_000,
      what: 'the "datasync is running" banner',
    });
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${out}`);
    const base = `http://localhost:${port}`;
    // A person reads the banner and opens a second terminal; by then every worker is listening.
    await waitFor(async () => (await fetch(`${base}/ready`)).ok, {
      timeoutMs: 60_000,
      what: `${base}/ready`,
    });
    remember();
    const ingest = out.match(/local-ingest\s+scopes=ingest\s+(ds_\S+)/)?.[1];
    const operator = out.match(/local-operator\s+scopes=operator\s+(ds_\S+)/)?.[1];
    if (!ingest || !operator) throw new Error(`no generated API keys in the output of npm start:\n${out}`);
    return {
      port,
      base,
      dir: dir.path,
      redisPort,
      keys: { ingest, operator },
      output: () => out,
      stop,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A command run to its end, its output kept apart (stdout, stderr). One that hangs is killed with
 * its process group after `timeoutMs` (exit code null), so a stuck command fails its test instead
 * of the whole run.
 */
export function runCommand(
  file: string,
  args: string[],
  env: Record<string, string>,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(file, args, {
      cwd: ROOT,
      env: userEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed: still running after ${timeoutMs} ms)\n`;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `datasync ARGS` as the tour's alias runs it, with the stack's URL and operator key. */
export function datasync(stack: Stack, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runCommand(process.execPath, [CLI, ...args], {
    DATASYNC_URL: stack.base,
    DATASYNC_API_KEY: stack.keys.operator,
    ...env,
  });
}

/** The same under a pseudo-terminal (util-linux `script`): stdout and stderr merged, as seen. */
export async function datasyncOnPty(stack: Stack, args: string[]): Promise<Run> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const run = await runCommand('script', ['-qefc', `exec ${command}`, '/dev/null'], {
    DATASYNC_URL: stack.base,
    DATASYNC_API_KEY: stack.keys.operator,
  });
  return { ...run, stdout: run.stdout.replace(/\r/g, '') };
}

/** What a clean stop means, whichever way the stack was started. */
export const STACK_PROCESSES = [
  /scripts\/start\.mjs/,
  /apps\/api\/dist\/main\.js/,
  /apps\/sync-worker\/dist\/main\.js/,
  /apps\/backup-worker\/dist\/main\.js/,
  /apps\/scheduler\/dist\/main\.js/,
  /redis-server/,
];
