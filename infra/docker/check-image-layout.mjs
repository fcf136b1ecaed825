// Rebuilds the Dockerfile's runtime layout in a temp folder without Docker: the manifests it copies,
// `pnpm install --frozen-lockfile --prod` (offline, from the local store), each package's built
// dist/. Then every app must load all its imports from production dependencies alone (started with
// a bad PORT, it reaches its config check and exits 78), and the CLI must answer --help.
// Catches an app importing a devDependency, or a package the Dockerfile forgot.
// Used by scripts/check-infra.mjs (plain Node, no dependencies).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function findPnpm(root) {
  const local = join(root, '.tools', 'node_modules', '.bin', 'pnpm');
  if (spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0) return 'pnpm';
  return existsSync(local) ? local : null;
}

export function checkImageLayout({ root, dir }) {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const packages = [...dockerfile.matchAll(/^COPY\s+(\S+)\/package\.json\s/gm)].map((m) => m[1]);
  const built = packages.filter((p) => existsSync(join(root, p, 'dist')));
  const unbuilt = packages.filter((p) => !built.includes(p));
  if (unbuilt.some((p) => !p.startsWith('apps/')) || !built.includes('apps/cli'))
    return `skipped: not built yet (${unbuilt.join(', ')}); run the build first`;
  const pnpm = findPnpm(root);
  if (!pnpm) return 'skipped: pnpm is not installed';

  mkdirSync(dir, { recursive: true });
  for (const file of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc'])
    if (existsSync(join(root, file))) copyFileSync(join(root, file), join(dir, file));
  for (const p of packages) {
    mkdirSync(join(dir, p), { recursive: true });
    copyFileSync(join(root, p, 'package.json'), join(dir, p, 'package.json'));
  }
  const install = spawnSync(pnpm, ['install', '--frozen-lockfile', '--prod', '--offline'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
  });
  if (install.status !== 0)
    throw new Error(`pnpm install --frozen-lockfile --prod failed:\n${install.stdout}${install.stderr}`);
  for (const p of built) cpSync(join(root, p, 'dist'), join(dir, p, 'dist'), { recursive: true });

  const problems = [];
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: 'not-a-port' };
  // The dashboard is static files the api serves, not a process.
  const apps = built.filter((p) => p.startsWith('apps/') && p !== 'apps/cli' && p !== 'apps/dashboard');
  for (const app of apps) {
    const r = spawnSync(process.execPath, [join(app, 'dist', 'main.js')], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    if (r.status !== 78)
      problems.push(
        `${app}: expected exit 78 (config check), got ${r.status ?? r.signal}\n${r.stderr.slice(0, 800)}`,
      );
  }
  if (built.includes('apps/dashboard') && !existsSync(join(dir, 'apps/dashboard/dist/index.html')))
    problems.push(
      'apps/dashboard/dist/index.html is missing from the image: the api would serve no dashboard',
    );
  const cli = spawnSync(process.execPath, ['apps/cli/dist/main.js', '--help'], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  if (cli.status !== 0) problems.push(`apps/cli: --help exited ${cli.status}\n${cli.stderr.slice(0, 800)}`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const note = unbuilt.length > 0 ? `; not built, so not checked: ${unbuilt.join(', ')}` : '';
  return `${apps.map((a) => a.slice(5)).join(', ')} and the CLI load with production dependencies only${note}`;
}
