import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './local-redis.js';

/**
 * A PostgreSQL server of our own for the SQL source's tests: `initdb` in a temp folder, `postgres`
 * on a free loopback port with its unix socket in that folder, password authentication (scram) so
 * wrong credentials can be tested. Run as root (a container), the server runs as the `postgres`
 * OS user (it refuses root), which then owns the folder: give it a folder of its own directly under
 * the system temp folder (`tempDir()`), one that user can reach.
 */
export interface LocalPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  password: string;
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  dir: string;
  password?: string;
  /** The server's default TimeZone (what a session without its own setting uses). */
  timeZone?: string;
}

export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

function asServerUser(bin: string, args: string[]) {
  const root = process.getuid?.() === 0;
  const [command, argv] = root ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const run = spawnSync(command, argv, { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`${bin} ${args.join(' ')} failed (${run.status}): ${run.stderr || run.stdout}`);
  }
}

function serverUserIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0)
    throw new Error('running as root needs the `postgres` OS user (Debian: apt-get install postgresql)');
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error(
      'postgresql is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y postgresql',
    );
  }
  const password = options.password ?? 'pg-test-secret';
  const data = join(options.dir, 'data');
  const socketDir = join(options.dir, 'socket');
  mkdirSync(socketDir, { recursive: true });
  const pwfile = join(options.dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  const owner = serverUserIds();
  if (owner) for (const path of [options.dir, socketDir, pwfile]) chownSync(path, owner.uid, owner.gid);
  asServerUser(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=scram-sha-256',
    `--pwfile=${pwfile}`,
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${socketDir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c shared_buffers=32MB',
    ...(options.timeZone ? [`-c timezone=${options.timeZone}`] : []),
  ].join(' ');
  asServerUser(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(options.dir, 'server.log'),
    '-o',
    settings,
    '-w',
    '-t',
    '30',
    'start',
  ]);
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    password,
    stop: async () => {
      asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
  };
}
