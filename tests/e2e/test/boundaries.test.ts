import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './stack.js';

/**
 * What each package may import (docs/architecture.md, "What may import what"): no app imports
 * another app, by package.json or by an import specifier in its sources, and the api never
 * imports packages/db (it never opens DuckDB). Only this package (tests/e2e) spans apps.
 */

const APPS = readdirSync(join(ROOT, 'apps'));
const packageName = (dir: string): string =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name as string;
const APP_NAMES = new Map(APPS.map((app) => [packageName(join(ROOT, 'apps', app)), app]));
const DB_NAME = packageName(join(ROOT, 'packages', 'db'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

/** Where a specifier leads: a workspace package's name, or the folder a relative path lands in. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.'))
    return specifier
      .split('/')
      .slice(0, specifier.startsWith('@') ? 2 : 1)
      .join('/');
  return relative(ROOT, resolve(dirname(file), specifier));
}

/** Every forbidden edge out of one app, as "where -> what", so a failure names each. */
export function forbiddenImports(root: string, app: string): string[] {
  const own = join(root, 'apps', app);
  const forbidden = (to: string): boolean => {
    const otherApp = APP_NAMES.get(to);
    if (otherApp !== undefined && otherApp !== app) return true;
    if (/^apps\//.test(to) && !to.startsWith(`apps/${app}/`) && to !== `apps/${app}`) return true;
    return app === 'api' && (to === DB_NAME || to === 'packages/db' || to.startsWith('packages/db/'));
  };
  const found: string[] = [];
  const manifest = JSON.parse(readFileSync(join(own, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const name of Object.keys(manifest[field] ?? {})) {
      if (forbidden(name)) found.push(`apps/${app}/package.json ${field} -> ${name}`);
    }
  }
  for (const file of sourceFiles(join(own, 'src'))) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      if (forbidden(target(file, specifier!))) found.push(`${relative(root, file)} -> ${specifier}`);
    }
  }
  return found;
}

describe('package boundaries', () => {
  it.each(APPS)('apps/%s imports no other app (and the api no packages/db)', (app) => {
    expect(forbiddenImports(ROOT, app)).toEqual([]);
  });

  it('no api route sets its own validator compiler or auth hook (they are registered per route tree)', () => {
    const routes = join(ROOT, 'apps', 'api', 'src', 'routes');
    const offenders = sourceFiles(routes).filter((file) =>
      /validatorCompiler\s*:|onRequest\s*:/.test(readFileSync(file, 'utf8')),
    );
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
