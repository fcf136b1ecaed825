import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './local-redis.js';

/**
 * A MariaDB server of our own for the SQL source's tests: `mariadb-install-db` in a temp folder,
 * `mariadbd` on a free loopback port with its socket in that folder, `root` with a password for
 * TCP (so wrong credentials can be tested). Run as root (a container), the server runs as the
 * `mysql` OS user, which then owns the folder: give it one directly under the system temp folder.
 */
export interface LocalMariadb {
  /** mysql://root:<password>@127.0.0.1:<port>/mysql */
  url: string;
  port: number;
  password: string;
  process: ChildProcess;
  /** Runs SQL through the `mariadb` client on the socket, as root. */
  sql(statements: string): string;
  stop(): Promise<void>;
}

export interface LocalMariadbOptions {
  dir: string;
  password?: string;
  /** The server's default time zone as an offset (`+05:30`). */
  timeZone?: string;
}

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

export async function startLocalMariadb(options: LocalMariadbOptions): Promise<LocalMariadb> {
  if (!has('mariadbd') && spawnSync('test', ['-x', '/usr/sbin/mariadbd']).status !== 0) {
    throw new Error(
      'mariadb-server is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y mariadb-server',
    );
  }
  const password = options.password ?? 'maria-test-secret';
  const data = join(options.dir, 'data');
  const socket = join(options.dir, 'mysqld.sock');
  mkdirSync(data, { recursive: true });
  const root = process.getuid?.() === 0;
  if (root) {
    const uid = Number(spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || uid <= 0)
      throw new Error('running as root needs the `mysql` OS user (apt-get install mariadb-server)');
    chownSync(options.dir, uid, gid);
    chownSync(data, uid, gid);
  }
  const user = root ? ['--user=mysql'] : [];
  const install = spawnSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${data}`,
      ...user,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ],
    { encoding: 'utf8' },
  );
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr || install.stdout}`);
  const port = await freePort();
  const bin = has('mariadbd') ? 'mariadbd' : '/usr/sbin/mariadbd';
  const child = spawn(
    bin,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      // TCP clients are matched as 127.0.0.1 (root with its password), not as localhost.
      '--skip-name-resolve',
      `--pid-file=${join(options.dir, 'mariadbd.pid')}`,
      '--skip-log-bin',
      '--innodb-buffer-pool-size=64M',
      '--innodb-flush-log-at-trx-commit=0',
      ...(options.timeZone ? [`--default-time-zone=${options.timeZone}`] : []),
      ...user,
    ],
    { stdio: 'ignore' },
  );
  const client = (args: string[], input?: string) =>
    spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', ...args], {
      encoding: 'utf8',
      ...(input === undefined ? {} : { input }),
    });
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`mariadbd exited with code ${child.exitCode} on port ${port}`);
    if (client(['-e', 'SELECT 1']).status === 0) break;
    if (Date.now() - started > 30_000) {
      child.kill('SIGKILL');
      throw new Error(`mariadbd did not answer on port ${port} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const quoted = password.replaceAll("'", "''");
  const setup = client(
    [],
    `CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
     ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${quoted}';
     GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;`,
  );
  if (setup.status !== 0) {
    child.kill('SIGKILL');
    throw new Error(`could not set the root password: ${setup.stderr}`);
  }
  return {
    url: `mysql://root:${encodeURIComponent(password)}@127.0.0.1:${port}/mysql`,
    port,
    password,
    process: child,
    sql: (statements) => {
      const run = client(['--batch', '--skip-column-names'], statements);
      if (run.status !== 0) throw new Error(`mariadb: ${run.stderr}`);
      return run.stdout;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
