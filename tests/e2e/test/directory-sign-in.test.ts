import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  isolatedRedisUrl,
  type LocalSlapd,
  type SpawnedProcess,
  spawnNode,
  startLocalSlapd,
  TEST_OPERATOR_GROUP,
  TEST_SERVICE,
  TEST_SUFFIX,
  TEST_USERS,
  tempDir,
} from '@datasync/testkit';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI, ROOT, runCommand } from './stack.js';

/**
 * Directory sign-in end to end: the dashboard in chromium and `datasync login` / `whoami` /
 * `logout`, against the api (its built main.js, alone: no workers needed) and a real slapd.
 */

const API_MAIN = join(ROOT, 'apps', 'api', 'dist', 'main.js');
const { alice, bob, carol } = TEST_USERS;
const dir = tempDir('datasync-cli-login-');
const configHome = join(dir.path, 'config');
const sessionFile = join(configHome, 'datasync', 'session.json');
let slapd: LocalSlapd;
let api: SpawnedProcess;
let base = '';

beforeAll(async () => {
  slapd = await startLocalSlapd({ dir: join(dir.path, 'slapd') });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  api = spawnNode(API_MAIN, {
    REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
    HOST: '127.0.0.1',
    PORT: String(port),
    NODE_ENV: 'production',
    API_KEYS: 'ops:operator:operator-secret-0123456789',
    DATABASE_PATH: join(dir.path, 'data', 'db.duckdb'),
    IMPORT_DIR: join(dir.path, 'imports'),
    LDAP_SERVER: slapd.url,
    LDAP_USER: TEST_SERVICE.dn,
    LDAP_PASSWORD: TEST_SERVICE.password,
    LDAP_BASE_DN: `ou=people,${TEST_SUFFIX}`,
    LDAP_OPERATOR_GROUP: TEST_OPERATOR_GROUP,
    LOG_FORMAT: 'json',
  });
  await api.waitForOutput(/api listening/, 60_000);
}, 120_000);

afterAll(async () => {
  api?.kill();
  await api?.exited();
  await slapd?.stop();
  dir.cleanup();
});

const cli = (args: string[], input = '') =>
  runCommand(
    process.execPath,
    [CLI, ...args],
    { DATASYNC_URL: base, XDG_CONFIG_HOME: configHome },
    { input },
  );

/** `datasync login USER` on a pseudo-terminal, the password typed once the prompt shows. */
function loginOnPty(user: string, password: string): Promise<string> {
  const command = `exec '${process.execPath}' '${CLI}' login ${user}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      env: { ...process.env, DATASYNC_URL: base, XDG_CONFIG_HOME: configHome, DATASYNC_API_KEY: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let typed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!typed && out.includes('password for')) {
        typed = true;
        child.stdin.write(`${password}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

describe('datasync login, whoami, logout (directory sign-in)', () => {
  it('login on a terminal does not echo the password; the session file is mode 0600 and other commands use it', async () => {
    const out = await loginOnPty('alice', alice.password);
    expect(out).toMatch(/signed in as alice \(operator\)/);
    expect(out).toContain(`granted by ${TEST_OPERATOR_GROUP}`);
    expect(out).not.toContain(alice.password);
    expect(existsSync(sessionFile)).toBe(true);
    expect(statSync(sessionFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(sessionFile, 'utf8')).token).toMatch(/^dss_/);

    const who = await cli(['whoami', '--json']);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({
      name: 'alice',
      scopes: ['operator'],
      grantedBy: TEST_OPERATOR_GROUP,
    });
    const schedules = await cli(['schedules', '--json']);
    expect(schedules.code, schedules.stderr).toBe(0);
  });

  it('a wrong password or a user outside the group is refused, saying why, and keeps no session', async () => {
    await cli(['logout']);
    const wrong = await cli(['login', 'alice'], 'not-the-password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/401 .*wrong user name or password/);
    const outside = await cli(['login', 'carol'], `${carol.password}\n`);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/403 .*operator group/);
    expect(existsSync(sessionFile)).toBe(false);
    expect((await cli(['login', 'alice'], '  \n')).code).toBe(2); // blank: refused before asking
  });

  it('logout ends the session on the api too: the old token no longer works', async () => {
    expect((await cli(['login', 'alice'], `${alice.password}\n`)).code).toBe(0);
    const token = JSON.parse(readFileSync(sessionFile, 'utf8')).token as string;
    const out = await cli(['logout']);
    expect(out.stdout).toMatch(/signed out/);
    expect(existsSync(sessionFile)).toBe(false);
    const res = await fetch(`${base}/v1/schedules`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    const who = await cli(['whoami']);
    expect(who.code).toBe(1);
    expect(who.stderr).toMatch(/not signed in/);
    expect(api.output()).not.toContain(alice.password);
    expect(api.output()).not.toContain(token.slice(4));
  });
});

describe('the dashboard with directory sign-in (chromium)', () => {
  it('offers the directory form, says why a wrong password fails, and signs a nested-group member in', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      await page.getByLabel('User name').fill('bob');
      await page.getByLabel('Password', { exact: true }).fill('not-his-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/wrong user name or password/);
      await page.getByLabel('Password', { exact: true }).fill(bob.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const who = page.locator('.who');
      await expect.poll(() => who.textContent(), { timeout: 10_000 }).toMatch(/bob/);
      expect(await who.getAttribute('title')).toBe(`operator through ${TEST_OPERATOR_GROUP}`);
      // The key form is still there for operator keys.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect.poll(() => page.getByLabel('Operator API key').isVisible()).toBe(true);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
