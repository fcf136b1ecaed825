import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENTS_CHANNEL } from '@datasync/runtime';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { auth, INGEST_KEY, makeApi, OPERATOR_KEY } from './helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function api(env: Record<string, string> = {}) {
  const made = await makeApi(env);
  cleanups.push(made.close);
  return made;
}

const cookieOf = (res: { headers: Record<string, unknown> }) => {
  const header = res.headers['set-cookie'];
  const line = Array.isArray(header) ? header[0] : String(header ?? '');
  return { line, pair: line.split(';')[0]! };
};

describe('dashboard sessions', () => {
  it('an operator key opens an HttpOnly, SameSite=Strict, expiring cookie session; the key is not in it', async () => {
    const { app } = await api({ SESSION_TTL_MINUTES: '60', DASHBOARD_TZ: 'Europe/Berlin' });
    const res = await app.inject({ method: 'POST', url: '/auth/session', payload: { key: OPERATOR_KEY } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ name: 'ops', scopes: ['operator'], timeZone: 'Europe/Berlin' });
    expect(body.today).toMatch(/^\d{4}-\d\d-\d\d$/);
    const { line, pair } = cookieOf(res);
    expect(line).toMatch(/^datasync_session=[\w-]{40,};/);
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).toMatch(/Max-Age=3600/);
    expect(line).not.toMatch(/Secure/); // plain HTTP here
    expect(line).not.toContain(OPERATOR_KEY);
    // The cookie stands for the key on reads.
    const who = await app.inject({ method: 'GET', url: '/auth/session', headers: { cookie: pair } });
    expect(who.json()).toMatchObject({ name: 'ops', csrfToken: body.csrfToken });
    expect(
      (await app.inject({ method: 'GET', url: '/v1/schedules', headers: { cookie: pair } })).statusCode,
    ).toBe(200);
  });

  it('behind TLS (X-Forwarded-Proto: https) the cookie is Secure', async () => {
    const { app } = await api();
    const res = await app.inject({
      method: 'POST',
      url: '/auth/session',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { key: OPERATOR_KEY },
    });
    expect(cookieOf(res).line).toMatch(/; Secure/);
  });

  it('refuses an ingest key, a wrong key and no key, saying why', async () => {
    const { app } = await api();
    const ingest = await app.inject({ method: 'POST', url: '/auth/session', payload: { key: INGEST_KEY } });
    expect(ingest.statusCode).toBe(403);
    expect(ingest.json().detail).toMatch(/ingest key: the dashboard needs an operator key/);
    expect(ingest.headers['set-cookie']).toBeUndefined();
    const wrong = await app.inject({ method: 'POST', url: '/auth/session', payload: { key: 'nope' } });
    expect(wrong.statusCode).toBe(401);
    const none = await app.inject({ method: 'POST', url: '/auth/session', payload: {} });
    expect(none.statusCode).toBe(400);
    expect(none.json().errors[0].path).toBe('key');
    expect((await app.inject({ method: 'GET', url: '/auth/session' })).statusCode).toBe(401);
  });

  it('a request that changes something needs the CSRF token; sign-out ends the session at once', async () => {
    const { app } = await api();
    const signIn = await app.inject({ method: 'POST', url: '/auth/session', payload: { key: OPERATOR_KEY } });
    const { pair } = cookieOf(signIn);
    const { csrfToken } = signIn.json();
    const backup = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/v1/jobs/health-check',
        headers: { cookie: pair, ...headers },
        payload: {},
      });
    const without = await backup({});
    expect(without.statusCode).toBe(403);
    expect(without.json().detail).toMatch(/x-csrf-token/);
    expect((await backup({ 'x-csrf-token': 'forged' })).statusCode).toBe(403);
    expect((await backup({ 'x-csrf-token': csrfToken })).statusCode).toBe(202);

    expect(
      (await app.inject({ method: 'DELETE', url: '/auth/session', headers: { cookie: pair } })).statusCode,
    ).toBe(403);
    const out = await app.inject({
      method: 'DELETE',
      url: '/auth/session',
      headers: { cookie: pair, 'x-csrf-token': csrfToken },
    });
    expect(out.statusCode).toBe(204);
    expect(cookieOf(out).line).toMatch(/datasync_session=;/);
    const after = await app.inject({ method: 'GET', url: '/v1/schedules', headers: { cookie: pair } });
    expect(after.statusCode).toBe(401);
    expect(after.json().detail).toMatch(/session has ended/);
  });

  it('GET /v1/jobs lists recent operator jobs, newest first', async () => {
    const { app } = await api();
    for (const type of ['backup', 'health-check'])
      await app.inject({ method: 'POST', url: `/v1/jobs/${type}`, headers: auth(OPERATOR_KEY), payload: {} });
    const res = await app.inject({ method: 'GET', url: '/v1/jobs?limit=5', headers: auth(OPERATOR_KEY) });
    expect(res.statusCode).toBe(200);
    expect(res.json().jobs.map((j: { type: string; state: string }) => [j.type, j.state])).toEqual([
      ['health-check', 'waiting'],
      ['backup', 'waiting'],
    ]);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/jobs?limit=0', headers: auth(OPERATOR_KEY) })).statusCode,
    ).toBe(400);
  });
});

describe('the dashboard files and live events', () => {
  it('serves the built dashboard at / with a strict Content-Security-Policy; says how to build it when missing', async () => {
    const missing = await api({ DASHBOARD_DIR: '/nonexistent-dashboard' });
    const res = await missing.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatch(/dashboard is not built/);

    const built = await api();
    const dir = join(built.dir, 'dashboard');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>datasync</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const served = await api({ DASHBOARD_DIR: dir });
    const page = await served.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>datasync</title>');
    expect(page.headers['content-security-policy']).toMatch(
      /default-src 'self'; script-src 'self'; style-src 'self'/,
    );
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    const asset = await served.app.inject({ method: 'GET', url: '/assets/app.js' });
    expect(asset.headers['cache-control']).toMatch(/immutable/);
    // Unknown API paths still answer as the API does.
    expect(
      (await served.app.inject({ method: 'GET', url: '/v1/nope', headers: auth(OPERATOR_KEY) })).json()
        .status,
    ).toBe(404);
  });

  it('GET /v1/events streams a commit the workers publish, to a signed-in dashboard, within a second', async () => {
    const { app, redisUrl } = await api();
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const signIn = await fetch(`${address}/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: OPERATOR_KEY }),
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${address}/v1/events`)).status).toBe(401);
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const res = await fetch(`${address}/v1/events`, { headers: { cookie }, signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: RegExp) => {
      while (!until.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await read(/: connected/);
    const publisher = new Redis(redisUrl);
    cleanups.push(() => publisher.disconnect());
    const published = Date.now();
    await publisher.publish(
      EVENTS_CHANNEL,
      JSON.stringify({
        type: 'commit',
        sources: [{ source: 'shop', rows: 10, rejected: 1 }],
        batches: 1,
        at: 'x',
      }),
    );
    await publisher.publish(
      EVENTS_CHANNEL,
      JSON.stringify({
        type: 'commit',
        sources: [{ source: 'shop', rows: 5, rejected: 0 }],
        batches: 1,
        at: 'x',
      }),
    );
    await read(/event: commit\ndata: .*\n\n/);
    expect(Date.now() - published).toBeLessThan(2_000);
    // Two commits within 250 ms arrive as one event with their sums.
    const data = JSON.parse(text.match(/event: commit\ndata: (.*)\n/)![1]!);
    expect(data.sources).toEqual([{ source: 'shop', rows: 15, rejected: 1 }]);
  });
});
