import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDACT_PATHS, waitForRedis } from '@datasync/runtime';
import { parseEnvConfig } from '@datasync/schemas';
import {
  freePort,
  isolatedRedisUrl,
  type LocalSlapd,
  startLocalSlapd,
  TEST_OPERATOR_GROUP,
  TEST_SERVICE,
  TEST_SUFFIX,
  TEST_USERS,
  tempDir,
} from '@datasync/testkit';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { escapeFilterValue } from '../src/auth/directory.js';
import { buildApp, createApiDeps, loadApiKeys } from '../src/index.js';

const OPERATOR_KEY = 'operator-secret-0123456789';
const { alice, bob, carol } = TEST_USERS;

let slapd: LocalSlapd;
const slapdDir = tempDir('datasync-slapd-');
beforeAll(async () => {
  slapd = await startLocalSlapd({ dir: slapdDir.path, tls: true });
}, 60_000);
afterAll(async () => {
  await slapd?.stop();
  slapdDir.cleanup();
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The api in-process with directory sign-in on the test slapd; its JSON log lines in a file. */
async function api(env: Record<string, string> = {}) {
  const dir = tempDir('datasync-ldap-api-');
  const config = parseEnvConfig({
    REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
    DATABASE_PATH: join(dir.path, 'data', 'db.duckdb'),
    IMPORT_DIR: join(dir.path, 'imports'),
    API_KEYS: `ops:operator:${OPERATOR_KEY}`,
    LDAP_SERVER: slapd.url,
    LDAP_USER: TEST_SERVICE.dn,
    LDAP_PASSWORD: TEST_SERVICE.password,
    LDAP_BASE_DN: `ou=people,${TEST_SUFFIX}`,
    LDAP_OPERATOR_GROUP: TEST_OPERATOR_GROUP,
    LDAP_TIMEOUT_MS: '2000',
    ...env,
  });
  const logFile = join(dir.path, 'api.log');
  const logger = pino(
    { level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ dest: logFile, sync: true }),
  );
  const { deps, close } = createApiDeps(config, loadApiKeys(config).store);
  cleanups.push(async () => {
    await close();
    dir.cleanup();
  });
  await waitForRedis(deps.redis);
  const app = await buildApp(deps, logger);
  cleanups.push(() => app.close());
  const login = (username: string, password: string, extra: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username, password, ...extra } });
  return { app, deps, login, logs: () => readFileSync(logFile, 'utf8') };
}

const cookiePair = (res: { headers: Record<string, unknown> }) => {
  const header = res.headers['set-cookie'];
  return (Array.isArray(header) ? header[0] : String(header ?? '')).split(';')[0]!;
};

describe('directory sign-in (a real slapd)', () => {
  it('a member of the operator group gets the same session cookie as the dashboard, naming the group', async () => {
    const { app, login } = await api();
    const res = await login('alice', alice.password);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'alice',
      scopes: ['operator'],
      via: 'directory',
      grantedBy: TEST_OPERATOR_GROUP,
    });
    expect(res.json().token).toBeUndefined();
    expect((await app.inject({ url: '/auth/methods' })).json()).toEqual({ apiKey: true, directory: true });
    const cookie = cookiePair(res);
    expect(cookie).toMatch(/^datasync_session=/);
    const who = await app.inject({ url: '/auth/session', headers: { cookie } });
    expect(who.json()).toMatchObject({ name: 'alice', grantedBy: TEST_OPERATOR_GROUP });
    expect((await app.inject({ url: '/v1/schedules', headers: { cookie } })).statusCode).toBe(200);
    // Sign-out ends it (with the session's CSRF token, as for DELETE /auth/session).
    const out = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie, 'x-csrf-token': res.json().csrfToken },
    });
    expect(out.statusCode).toBe(204);
    expect((await app.inject({ url: '/v1/schedules', headers: { cookie } })).statusCode).toBe(401);
  });

  it('a member through a nested group is an operator too, found by mail as well as uid', async () => {
    const { login } = await api();
    const byUid = await login('bob', bob.password);
    expect(byUid.statusCode).toBe(200);
    expect(byUid.json()).toMatchObject({ name: 'bob', grantedBy: TEST_OPERATOR_GROUP });
    expect((await login(bob.mail, bob.password)).statusCode).toBe(200);
  });

  it('a user outside the operator group is refused with 403 and no session', async () => {
    const { login } = await api();
    const res = await login('carol', carol.password);
    expect(res.statusCode).toBe(403);
    expect(res.json().detail).toMatch(/not a member of the operator group/);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('a wrong password and an unknown user get the very same 401', async () => {
    const { login } = await api();
    const wrong = await login('alice', 'not-her-password');
    const unknown = await login('nobody-here', 'whatever-password');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toBe(wrong.body);
    expect(wrong.json().detail).toBe('wrong user name or password');
  });

  it('a blank password is refused with 400 before the directory is asked (a dead directory is not noticed)', async () => {
    const { login } = await api({ LDAP_SERVER: `ldap://127.0.0.1:${await freePort()}` });
    for (const password of ['', '   ']) {
      const res = await login('alice', password);
      expect(res.statusCode).toBe(400);
      expect(res.body).toMatch(/password/);
    }
    // The same directory with a real password: it is asked, and it is down.
    expect((await login('alice', alice.password)).statusCode).toBe(503);
  });

  it('escapes every filter metacharacter of a name', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\u0000')).toBe('a\\5cb\\00');
  });

  it('LDAP filter injection in the user name finds nobody', async () => {
    const { login } = await api({ LOGIN_MAX_FAILURES: '50' });
    for (const name of [
      '*',
      'a*',
      'al*ce',
      '*)(uid=*',
      'alice)(|(uid=*',
      'alice\u0000',
      'alice\\00',
      '*)(objectClass=*',
    ]) {
      const res = await login(name, alice.password);
      expect(res.statusCode, name).toBe(401);
    }
  });

  it('a directory that does not answer is a 503 with Retry-After, never a way in', async () => {
    const { login } = await api({ LDAP_SERVER: `ldap://127.0.0.1:${await freePort()}` });
    const res = await login('alice', alice.password);
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('repeated failures for a name are refused for a while (429), even with the right password; /metrics counts them', async () => {
    const { app, login } = await api({ LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_MINUTES: '5' });
    for (let i = 0; i < 3; i++) expect((await login('alice', `wrong-${i}`)).statusCode).toBe(401);
    const locked = await login('alice', alice.password);
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(200);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(300);
    // Another name from the same address is not locked out by alice's failures.
    expect((await login('bob', bob.password)).statusCode).toBe(200);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/datasync_logins_total\{outcome="invalid"\} 3/);
    expect(metrics).toMatch(/datasync_logins_total\{outcome="locked"\} 1/);
    expect(metrics).toMatch(/datasync_logins_total\{outcome="success"\} 1/);
  });

  it('one address failing for many names is refused too, whatever X-Forwarded-For it sends', async () => {
    const { app, login } = await api({ LOGIN_MAX_FAILURES: '2' });
    // 4 x 2 failures from one address, each name failing only once, each claiming another origin.
    for (let i = 0; i < 8; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
        payload: { username: `guess-${i}`, password: 'x-password' },
      });
      expect(res.statusCode).toBe(401);
    }
    expect((await login('alice', alice.password)).statusCode).toBe(429);
    // Behind our nginx (a loopback peer) X-Real-IP names the client: another client is not locked out.
    const other = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-real-ip': '198.51.100.7' },
      payload: { username: 'alice', password: alice.password },
    });
    expect(other.statusCode).toBe(200);
  });

  it('Bull Board accepts the directory session', async () => {
    const { app, login } = await api();
    expect((await app.inject({ url: '/admin/queues' })).statusCode).toBe(401);
    const cookie = cookiePair(await login('alice', alice.password));
    const board = await app.inject({ url: '/admin/queues', headers: { cookie } });
    expect(board.statusCode).toBe(200);
    expect(board.body).toMatch(/<html/i);
  });

  it('the CLI gets the session as a bearer token (no cookie); logout ends it', async () => {
    const { app, login } = await api();
    const res = await login('bob', bob.password, { client: 'cli' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    const token = res.json().token as string;
    expect(token).toMatch(/^dss_/);
    const bearer = { authorization: `Bearer ${token}` };
    expect((await app.inject({ url: '/v1/schedules', headers: bearer })).statusCode).toBe(200);
    expect((await app.inject({ url: '/auth/session', headers: bearer })).json()).toMatchObject({
      name: 'bob',
      grantedBy: TEST_OPERATOR_GROUP,
    });
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer })).statusCode).toBe(204);
    expect((await app.inject({ url: '/v1/schedules', headers: bearer })).statusCode).toBe(401);
  });

  it('the directory going down mid-session: the session lives on, new sign-ins get 503, then work again', async () => {
    const { app, login } = await api();
    const cookie = cookiePair(await login('alice', alice.password));
    await slapd.stop();
    try {
      expect((await app.inject({ url: '/v1/schedules', headers: { cookie } })).statusCode).toBe(200);
      expect((await login('bob', bob.password)).statusCode).toBe(503);
    } finally {
      await slapd.restart();
    }
    expect((await login('bob', bob.password)).statusCode).toBe(200);
  });

  it('ldaps:// with the CA is verified and works; without the CA it is refused (503), never skipped', async () => {
    const { login } = await api({ LDAP_SERVER: slapd.ldapsUrl!, LDAP_TLS_CA: slapd.caFile! });
    expect((await login('alice', alice.password)).statusCode).toBe(200);
    const untrusted = await api({ LDAP_SERVER: slapd.ldapsUrl! });
    expect((await untrusted.login('alice', alice.password)).statusCode).toBe(503);
  });

  it('an unreadable LDAP_TLS_CA stops the api at start, naming the variable', async () => {
    await expect(api({ LDAP_TLS_CA: join(slapdDir.path, 'no-such-ca.pem') })).rejects.toThrow(
      /LDAP_TLS_CA=.*no-such-ca\.pem: cannot read the CA file \(ENOENT\)/,
    );
  });

  it('StartTLS on ldap:// with the CA works', async () => {
    const { login } = await api({ LDAP_STARTTLS: 'true', LDAP_TLS_CA: slapd.caFile! });
    expect((await login('alice', alice.password)).statusCode).toBe(200);
    const untrusted = await api({ LDAP_STARTTLS: 'true' });
    expect((await untrusted.login('alice', alice.password)).statusCode).toBe(503);
  });

  it('is off while LDAP_SERVER is unset: 404, and the key sign-in is unchanged', async () => {
    const { app, login } = await api({ LDAP_SERVER: '' });
    expect((await login('alice', alice.password)).statusCode).toBe(404);
    expect((await app.inject({ url: '/auth/methods' })).json()).toEqual({ apiKey: true, directory: false });
    const key = await app.inject({ method: 'POST', url: '/auth/session', payload: { key: OPERATOR_KEY } });
    expect(key.statusCode).toBe(200);
  });

  it('no password, service password or token reaches the log', async () => {
    const { app, login, logs } = await api();
    await login('alice', alice.password);
    await login('alice', 'Wrong-LEAKCHECK-pw');
    await login('carol', carol.password);
    const cli = await login('bob', bob.password, { client: 'cli' });
    const token = cli.json().token as string;
    await app.inject({ url: '/auth/session', headers: { authorization: `Bearer ${token}` } });
    const text = logs();
    expect(text).toMatch(/directory sign-in/);
    for (const secret of [
      alice.password,
      bob.password,
      carol.password,
      'Wrong-LEAKCHECK-pw',
      TEST_SERVICE.password,
      token,
      token.slice(4),
    ])
      expect(text).not.toContain(secret);
  });
});
