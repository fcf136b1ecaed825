// Static checks of the deployment files, for CI on a machine without a Docker engine
// (plain Node, no dependencies). Run: node scripts/check-infra.mjs
// - docker-compose.yml: `docker-compose config -q` (Compose v1 from Debian), with every profile, in a
//   temp folder whose .env is .env.example (so .env.example is checked against the compose file too);
//   every ./path it bind-mounts exists (./certs excepted: the operator provides it).
// - Dockerfile: every workspace package is installed and copied into the runtime image; non-root
//   USER; HEALTHCHECK; the healthcheck script parses; and the runtime layout rebuilt without Docker
//   runs every app from production dependencies (infra/docker/check-image-layout.mjs).
// - infra/nginx/nginx.conf: `nginx -t` on a copy, then served for real on loopback against a stub
//   api (infra/nginx/smoke-test.mjs). The copy differs only where this machine differs from the
//   nginx container: a throwaway self-signed certificate (openssl) replaces /etc/nginx/certs, upstream
//   host names (`api`) become 127.0.0.1, `user` is the current user, pid, logs and temp folders go
//   to the temp folder, and (for the smoke test) the listen ports are free loopback ports.
// - infra/redis/redis.conf: loaded by a real redis-server on a unix socket; durability settings read
//   back (skipped when redis-server is missing; `npm test` installs it).
// - infra/logrotate: `logrotate -d`, then a forced rotation of a temp log (copytruncate).
// - infra/systemd: `systemd-analyze verify` (skipped when systemd-analyze is missing).
// - infra/prometheus, infra/grafana: YAML and JSON parse; the dashboard uses the provisioned data
//   source and only metrics defined in packages/runtime/src/metrics.ts or the api's
//   apps/api/src/metrics-view.ts.
// - shellcheck on every *.sh and every file starting with a sh/bash shebang.
// Missing tools (docker-compose, nginx, shellcheck, openssl, logrotate) are installed with apt-get
// when running as root; otherwise it stops and says how to get them. Exits 1 on any failure.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkImageLayout } from '../infra/docker/check-image-layout.mjs';
import { smokeTestNginx } from '../infra/nginx/smoke-test.mjs';
import { checkRedisConf } from '../infra/redis/check-conf.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS = {
  'docker-compose': 'docker-compose',
  nginx: 'nginx',
  shellcheck: 'shellcheck',
  openssl: 'openssl',
  logrotate: 'logrotate',
};
const failures = [];
const temp = mkdtempSync(join(tmpdir(), 'datasync-infra-'));

const say = (message) => process.stdout.write(`\x1b[36m[check-infra]\x1b[0m ${message}\n`);
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const read = (path) => readFileSync(join(ROOT, path), 'utf8');

/** Runs a command; returns its output, or throws with it when the exit code is not 0. */
function exec(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', ...options });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error) throw new Error(`${command}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}\n${output}`);
  return output;
}

async function step(name, fn) {
  try {
    const note = await fn();
    say(`ok    ${name}${note ? ` (${note})` : ''}`);
  } catch (error) {
    failures.push(name);
    process.stderr.write(`\x1b[31m[check-infra] FAIL  ${name}\x1b[0m\n${error.message}\n`);
  }
}

function ensureTools() {
  const missing = Object.keys(TOOLS).filter((command) => !has(command));
  if (missing.length === 0) return;
  const packages = missing.map((command) => TOOLS[command]);
  const howTo = `missing ${missing.join(', ')}: install them (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}) and run again`;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    process.stderr.write(`\x1b[31m[check-infra] ${howTo}\x1b[0m\n`);
    process.exit(1);
  }
  say(`installing ${packages.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // A fresh machine's package lists are empty: update first.
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0 || missing.some((command) => !has(command))) {
    process.stderr.write(`\x1b[31m[check-infra] apt-get could not install them. ${howTo}\x1b[0m\n`);
    process.exit(1);
  }
}

function checkCompose() {
  const dir = join(temp, 'compose');
  mkdirSync(dir);
  copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
  copyFileSync(join(ROOT, '.env.example'), join(dir, '.env'));
  const file = join(dir, 'docker-compose.yml');
  exec('docker-compose', ['-f', file, 'config', '-q'], { cwd: dir });
  exec('docker-compose', ['-f', file, '--profile', 's3', '--profile', 'monitoring', 'config', '-q'], {
    cwd: dir,
  });
  const mounts = [...read('docker-compose.yml').matchAll(/^\s*-\s*\.\/([^:\s]+):/gm)].map((m) => m[1]);
  const absent = mounts.filter((path) => path !== 'certs' && !existsSync(join(ROOT, path)));
  if (absent.length > 0)
    throw new Error(`docker-compose.yml mounts files that do not exist: ${absent.join(', ')}`);
  return `${mounts.length} bind mounts present`;
}

function checkDockerfile() {
  const dockerfile = read('Dockerfile');
  const problems = [];
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(join(ROOT, group))) {
      if (!existsSync(join(ROOT, group, name, 'package.json'))) continue;
      const path = `${group}/${name}`;
      if (!dockerfile.includes(`COPY ${path}/package.json ${path}/`))
        problems.push(`${path}/package.json is not copied for the install`);
      if (!dockerfile.includes(`/app/${path}/dist ${path}/dist`))
        problems.push(`${path}/dist is not copied into the runtime image`);
    }
  }
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const user = runtime.match(/^USER\s+(\S+)/m)?.[1];
  if (!user || user === 'root' || user === '0')
    problems.push('the runtime stage does not switch to a non-root USER');
  if (!/^HEALTHCHECK\s/m.test(runtime)) problems.push('the runtime stage has no HEALTHCHECK');
  for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(\S+)\s/gm)) {
    if (!m[1].includes('*') && m[1] !== '.' && !existsSync(join(ROOT, m[1])))
      problems.push(`COPY source ${m[1]} does not exist`);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  exec(process.execPath, ['--check', join(ROOT, 'infra/docker/healthcheck.mjs')]);
}

/** nginx.conf as this machine can run it (see the header). */
function localNginxConf(dir, ports) {
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  exec('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-keyout',
    join(certs, 'privkey.pem'),
    '-out',
    join(certs, 'fullchain.pem'),
  ]);
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];
  for (const t of temps) mkdirSync(join(dir, t), { recursive: true });
  let conf = read('infra/nginx/nginx.conf')
    .replaceAll('/etc/nginx/certs/', `${certs}/`)
    .replace(/^user\s+\S+;/m, `user ${userInfo().username};`)
    .replace(/^pid\s+\S+;/m, `pid ${join(dir, 'nginx.pid')};`)
    .replace(/^(\s*error_log)\s+\S+/gm, `$1 ${join(dir, 'error.log')}`)
    .replace(/^(\s*access_log)\s+(?!off)\S+/gm, `$1 ${join(dir, 'access.log')}`)
    .replace(
      /^(\s*server\s+)([a-z][a-z0-9.-]*)(:\d+)/gm,
      (_all, lead, _host, port) => `${lead}127.0.0.1${ports ? `:${ports.upstream}` : port}`,
    )
    .replace(/^http\s*\{/m, `http {\n${temps.map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n')}`);
  if (ports) {
    conf = conf
      .replace(/^(\s*listen\s+)\[::\]:\d+[^;]*;\n/gm, '')
      .replace(/^(\s*listen\s+)80\b/gm, `$1127.0.0.1:${ports.http}`)
      .replace(/^(\s*listen\s+)443\b/gm, `$1127.0.0.1:${ports.https}`);
  }
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

function checkNginxSyntax() {
  const dir = join(temp, 'nginx-t');
  const file = localNginxConf(dir);
  exec('nginx', ['-t', '-q', '-c', file, '-p', dir, '-e', join(dir, 'error.log')]);
}

async function checkNginxLive() {
  const dir = join(temp, 'nginx-live');
  return smokeTestNginx({ makeConf: (ports) => localNginxConf(dir, ports), dir, exec });
}

function checkLogrotate() {
  const conf = read('infra/logrotate/datasync');
  exec('logrotate', ['-d', '-s', join(temp, 'logrotate.state'), join(ROOT, 'infra/logrotate/datasync')]);
  const dir = join(temp, 'logs');
  mkdirSync(dir);
  const local = join(temp, 'logrotate.conf');
  writeFileSync(local, conf.replace(/^\/\S+\.log(\s+\/\S+\.log)*\s*\{/m, `${dir}/*.log {`));
  chmodSync(local, 0o644);
  writeFileSync(join(dir, 'api.log'), '{"msg":"before rotation"}\n');
  exec('logrotate', ['-f', '-s', join(temp, 'logrotate-live.state'), local]);
  const rotated = readdirSync(dir).filter((name) => name !== 'api.log');
  if (statSync(join(dir, 'api.log')).size !== 0 || rotated.length !== 1)
    throw new Error(
      `a forced rotation should leave api.log empty beside one rotated copy; found ${readdirSync(dir).join(', ')}`,
    );
  if (!readFileSync(join(dir, rotated[0]), 'utf8').includes('before rotation'))
    throw new Error('the rotated copy lost the log lines');
  return `copytruncate kept the lines in ${rotated[0]}`;
}

function checkSystemd() {
  if (!has('systemd-analyze')) return 'skipped: systemd-analyze is not installed';
  const dir = join(temp, 'systemd');
  mkdirSync(dir);
  for (const name of readdirSync(join(ROOT, 'infra/systemd')))
    copyFileSync(join(ROOT, 'infra/systemd', name), join(dir, name));
  const units = ['api', 'sync-worker', 'backup-worker', 'scheduler'].map((app) => {
    copyFileSync(join(dir, 'datasync@.service'), join(dir, `datasync@${app}.service`));
    return join(dir, `datasync@${app}.service`);
  });
  // It reports unknown keys and bad values as warnings with exit code 0: any output is a failure.
  const output = exec('systemd-analyze', ['verify', '--man=no', ...units, join(dir, 'datasync.target')], {
    cwd: dir,
  });
  if (output) throw new Error(output);
}

function checkMonitoring() {
  const python = ['/usr/bin/python3', 'python3'].find(
    (p) => spawnSync(p, ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0,
  );
  const yamls = [
    'infra/prometheus/prometheus.yml',
    ...readdirSync(join(ROOT, 'infra/grafana/provisioning'), { recursive: true })
      .filter((p) => p.endsWith('.yml'))
      .map((p) => `infra/grafana/provisioning/${p}`),
  ];
  if (python)
    for (const path of yamls)
      exec(python, ['-c', 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))', join(ROOT, path)]);
  const dashboard = JSON.parse(read('infra/grafana/dashboards/datasync.json'));
  const uid = read('infra/grafana/provisioning/datasources/prometheus.yml').match(/uid:\s*(\S+)/)?.[1];
  const stray = dashboard.panels.filter((p) => p.datasource?.uid !== uid).map((p) => p.title);
  if (stray.length > 0)
    throw new Error(`panels not on the provisioned data source ${uid}: ${stray.join(', ')}`);
  const defined = ['packages/runtime/src/metrics.ts', 'apps/api/src/metrics-view.ts']
    .map((file) => readFileSync(join(ROOT, file), 'utf8'))
    .join('\n');
  const used = new Set(
    [...JSON.stringify(dashboard).matchAll(/datasync_[a-z0-9_]+/g)].map((m) =>
      m[0].replace(/_(bucket|count|sum)$/, ''),
    ),
  );
  const unknown = [...used].filter((name) => !defined.includes(name));
  if (unknown.length > 0)
    throw new Error(
      `the dashboard queries metrics neither packages/runtime/src/metrics.ts nor apps/api/src/metrics-view.ts defines: ${unknown.join(', ')}`,
    );
  return `${used.size} metrics, all defined`;
}

function shellFiles(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (
      ['node_modules', '.git', 'dist', '.turbo', '.tools', 'data', 'backups', 'coverage'].includes(entry.name)
    )
      continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) shellFiles(path, found);
    else if (
      entry.isFile() &&
      (entry.name.endsWith('.sh') ||
        /^#!\s*\/(usr\/)?bin\/(env\s+)?(ba)?sh\b/.test(readFileSync(path, 'utf8').slice(0, 40)))
    )
      found.push(path);
  }
  return found;
}

function checkShell() {
  const files = shellFiles(ROOT);
  if (files.length > 0) exec('shellcheck', ['-x', ...files], { cwd: ROOT });
  return `${files.length} file(s): ${files.map((f) => relative(ROOT, f)).join(', ')}`;
}

ensureTools();
try {
  await step('docker-compose.yml (docker-compose config)', checkCompose);
  await step('Dockerfile', checkDockerfile);
  await step('Dockerfile runtime layout (prod dependencies only)', () =>
    checkImageLayout({ root: ROOT, dir: join(temp, 'image') }),
  );
  await step('infra/nginx/nginx.conf (nginx -t)', checkNginxSyntax);
  await step('infra/nginx/nginx.conf (served on loopback)', checkNginxLive);
  await step('infra/redis/redis.conf (redis-server)', () =>
    checkRedisConf({ dir: join(temp, 'redis'), conf: join(ROOT, 'infra/redis/redis.conf') }),
  );
  await step('infra/logrotate/datasync (logrotate)', checkLogrotate);
  await step('infra/systemd (systemd-analyze verify)', checkSystemd);
  await step('infra/prometheus, infra/grafana', checkMonitoring);
  await step('shell scripts (shellcheck)', checkShell);
} finally {
  rmSync(temp, { recursive: true, force: true });
}
if (failures.length > 0) {
  process.stderr.write(
    `\x1b[31m[check-infra] ${failures.length} check(s) failed: ${failures.join('; ')}\x1b[0m\n`,
  );
  process.exit(1);
}
say('all infrastructure checks passed');
