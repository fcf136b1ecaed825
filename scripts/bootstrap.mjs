// Installs what the two commands need on a fresh machine with only Node.js and npm:
// pnpm at the pinned version, the workspace's packages, and (when asked) redis-server.
// Plain Node (no dependencies), so it runs before anything is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager.split(
  '@',
)[1];
const LOCAL_TOOLS = join(ROOT, '.tools');

export function log(message) {
  process.stdout.write(`\x1b[36m[datasync]\x1b[0m ${message}\n`);
}

export function fail(message) {
  process.stderr.write(`\x1b[31m[datasync] ${message}\x1b[0m\n`);
  process.exit(1);
}

function versionOf(command) {
  const r = spawnSync(command, ['--version'], { encoding: 'utf8', shell: false });
  return r.status === 0 ? r.stdout.trim() : null;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** The pnpm binary to use: on PATH at the pinned version, else installed by npm. */
export function ensurePnpm() {
  if (versionOf('pnpm') === PNPM_VERSION) return 'pnpm';
  const local = join(LOCAL_TOOLS, 'node_modules', '.bin', 'pnpm');
  if (existsSync(local) && versionOf(local) === PNPM_VERSION) return local;
  log(`installing pnpm@${PNPM_VERSION} with npm`);
  const global = spawnSync('npm', ['install', '-g', `pnpm@${PNPM_VERSION}`], { stdio: 'inherit' });
  if (global.status === 0 && versionOf('pnpm') === PNPM_VERSION) return 'pnpm';
  // No rights for a global install: keep a private copy in .tools/.
  const r = spawnSync('npm', ['install', '--prefix', LOCAL_TOOLS, '--no-save', `pnpm@${PNPM_VERSION}`], {
    stdio: 'inherit',
  });
  if (r.status !== 0 || !existsSync(local)) fail(`could not install pnpm@${PNPM_VERSION} with npm`);
  return local;
}

export function installWorkspace(pnpm) {
  log('installing workspace packages (pnpm install)');
  const args = ['install'];
  if (process.env.CI) args.push('--frozen-lockfile');
  const r = spawnSync(pnpm, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) fail('pnpm install failed (see above)');
}

const hasCommand = (command) =>
  spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;

export function hasRedisServer() {
  return hasCommand('redis-server');
}

/**
 * A program from Debian's packages: installed when missing and we are root (apt-get update first:
 * a fresh machine's package lists are empty); otherwise a message saying how to get it.
 */
function ensureDebianProgram(command, pkg, howTo) {
  if (hasCommand(command)) return;
  if (!isRoot() || !existsSync('/usr/bin/apt-get')) fail(howTo);
  log(`installing ${pkg} from Debian packages (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
    stdio: 'inherit',
    env,
  });
  if (update.status !== 0 || install.status !== 0 || !hasCommand(command))
    fail(`apt-get could not install it. ${howTo}`);
}

/** redis-server (Debian's package starts a system redis on 6379; we start our own where needed). */
export function ensureRedisServer() {
  ensureDebianProgram(
    'redis-server',
    'redis-server',
    'redis-server is needed. Install it (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y redis-server), or set REDIS_URL to a running Redis.',
  );
}

/** chromium, for the dashboard's browser tests. */
export function ensureChromium() {
  ensureDebianProgram(
    'chromium',
    'chromium',
    'chromium is needed for the dashboard tests. Install it (Debian: sudo apt-get update && sudo apt-get install -y chromium).',
  );
}

/** slapd and ldap-utils, for the directory sign-in tests (each starts its own slapd on a free port). */
export function ensureSlapd() {
  const howTo =
    'slapd is needed for the directory sign-in tests. Install it (Debian: sudo apt-get update && sudo apt-get install -y slapd ldap-utils).';
  // /usr/sbin is not on every user's PATH: look there too.
  if (!existsSync('/usr/sbin/slapd')) ensureDebianProgram('slapd', 'slapd', howTo);
  ensureDebianProgram('ldapadd', 'ldap-utils', howTo);
}

/** Debian's PostgreSQL server binaries (initdb, pg_ctl: not on PATH), for the SQL source's tests. */
export function postgresBinDir() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(`${base}/${v}/bin/initdb`))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? `${base}/${versions[0]}/bin` : null;
}

export function ensurePostgresql() {
  if (postgresBinDir()) return;
  const howTo =
    'postgresql is needed for the SQL source tests. Install it (Debian: sudo apt-get update && sudo apt-get install -y postgresql).';
  if (!isRoot() || !existsSync('/usr/bin/apt-get')) fail(howTo);
  log('installing postgresql from Debian packages (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
    stdio: 'inherit',
    env,
  });
  if (update.status !== 0 || install.status !== 0 || !postgresBinDir())
    fail(`apt-get could not install it. ${howTo}`);
}

/** MariaDB (mariadb-install-db, mariadbd), for the SQL source's MySQL/MariaDB tests. */
export function ensureMariadb() {
  ensureDebianProgram(
    'mariadb-install-db',
    'mariadb-server',
    'mariadb-server is needed for the SQL source tests. Install it (Debian: sudo apt-get update && sudo apt-get install -y mariadb-server).',
  );
}

export function run(pnpm, args, options = {}) {
  const r = spawnSync(pnpm, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (r.status !== 0) fail(`${[pnpm, ...args].join(' ')} failed with exit code ${r.status}`);
}

export function nodeVersionOk() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 12))
    fail(`Node.js 20.12 or newer is needed (this is ${process.version})`);
}

export { execFileSync };
