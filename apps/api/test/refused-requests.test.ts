import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { QUEUES, UserImportJobData } from '@datasync/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, INGEST_KEY, makeApi, OPERATOR_KEY, sales } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
beforeAll(async () => {
  api = await makeApi({ WAIT_TIMEOUT_MS: '300', MAX_UPLOAD_BYTES: '4096' });
});
afterAll(() => api.close());

const leftInImportDir = () =>
  existsSync(api.config.IMPORT_DIR) ? readdirSync(api.config.IMPORT_DIR, { recursive: true }) : [];
const CSV = 'username,email,password\nann,ann@example.com,Secret-Passw0rd!\n';

describe('query strings are validated on the routes whose body is checked by hand', () => {
  it('?wait=false and ?wait=0 answer at once; ?wait=junk is a 400 naming wait', async () => {
    const post = (query: string, start: number) =>
      api.app.inject({
        method: 'POST',
        url: `/v1/sales/batches${query}`,
        headers: { 'content-type': 'application/json', ...auth(INGEST_KEY) },
        payload: JSON.stringify(sales(2, start)),
      });
    // No worker runs: a request that waited would be a 504 after WAIT_TIMEOUT_MS.
    for (const [query, start] of [
      ['?wait=false', 10],
      ['?wait=0', 20],
    ] as const) {
      const res = await post(query, start);
      expect(res.statusCode).toBe(202);
      expect(res.json().committed).toBeUndefined();
    }
    expect((await post('?wait=true', 30)).statusCode).toBe(504);
    const junk = await post('?wait=junk', 40);
    expect(junk.statusCode).toBe(400);
    expect(junk.json().errors[0].path).toBe('wait');
  });

  it('?force=junk on an import and ?updateExisting=maybe on a user import are 400s naming them, and write nothing', async () => {
    const upload = (url: string) =>
      api.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) },
        payload: CSV,
      });
    const force = await upload('/v1/sales/imports?force=junk');
    expect(force.statusCode).toBe(400);
    expect(force.json().errors[0].path).toBe('force');
    const update = await upload('/v1/jobs/user-import?updateExisting=maybe');
    expect(update.statusCode).toBe(400);
    expect(update.json().errors[0].path).toBe('updateExisting');
    expect(leftInImportDir()).toEqual([]);
  });
});

describe('a refused upload leaves nothing in IMPORT_DIR', () => {
  const send = (url: string, headers: Record<string, string>, payload: string | Readable = CSV) =>
    api.app.inject({ method: 'POST', url, headers, payload });

  it('a file posted to a job type that takes JSON is a 415, refused before it is written', async () => {
    for (const type of ['health-check', 'backup', 'restore', 'verify-backup', 'backup-cleanup']) {
      const res = await send(`/v1/jobs/${type}`, { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) });
      expect(res.statusCode).toBe(415);
      expect(res.json().detail).toMatch(new RegExp(`job type ${type} takes a JSON body`));
    }
    expect(leftInImportDir()).toEqual([]);
  });

  it('JSON posted to the CSV import route is a 415 saying to send the file as text/csv, not a 500', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/sales/imports',
      headers: { 'content-type': 'application/json', ...auth(OPERATOR_KEY) },
      payload: JSON.stringify({ file: 'sales.csv' }),
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().detail).toMatch(/send the file as text\/csv/);
  });

  it('a Parquet or NDJSON body for a user import is a 415 saying it takes a CSV file', async () => {
    for (const type of ['application/vnd.apache.parquet', 'application/x-ndjson']) {
      const res = await send('/v1/jobs/user-import', { 'content-type': type, ...auth(OPERATOR_KEY) });
      expect(res.statusCode).toBe(415);
      expect(res.json().detail).toBe('a user import takes a CSV file (Content-Type: text/csv)');
    }
    expect(leftInImportDir()).toEqual([]);
  });

  it('a sales CSV has one entrance: posted as a sales-sync job it is a 415 naming POST /v1/sales/imports', async () => {
    const res = await send('/v1/jobs/sales-sync', { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) });
    expect(res.statusCode).toBe(415);
    expect(res.json().detail).toBe('a sales CSV file is uploaded to POST /v1/sales/imports');
    expect(leftInImportDir()).toEqual([]);
  });

  it('without a key, with a wrong key or scope, or with a content type no route takes', async () => {
    for (const url of ['/v1/sales/imports', '/v1/jobs/user-import', '/v1/jobs/sales-sync']) {
      expect((await send(url, { 'content-type': 'text/csv' })).statusCode).toBe(401);
      expect(
        (await send(url, { 'content-type': 'text/csv', ...auth('wrong-key-0123456789') })).statusCode,
      ).toBe(401);
      expect((await send(url, { 'content-type': 'text/csv', ...auth(INGEST_KEY) })).statusCode).toBe(403);
      expect((await send(url, { 'content-type': 'application/xml', ...auth(OPERATOR_KEY) })).statusCode).toBe(
        415,
      );
    }
    expect(leftInImportDir()).toEqual([]);
  });

  it('over MAX_UPLOAD_BYTES, declared or streamed, is a 413; an empty file is a 400', async () => {
    const big = 'x'.repeat(5000);
    const declared = await send(
      '/v1/sales/imports',
      { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) },
      big,
    );
    expect(declared.statusCode).toBe(413);
    expect(declared.json().detail).toMatch(/MAX_UPLOAD_BYTES/);
    const streamed = await send(
      '/v1/jobs/user-import',
      { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) },
      Readable.from([Buffer.from(big.slice(0, 3000)), Buffer.from(big.slice(3000))]),
    );
    expect(streamed.statusCode).toBe(413);
    const empty = await send('/v1/sales/imports', { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) }, '');
    expect(empty.statusCode).toBe(400);
    expect(leftInImportDir()).toEqual([]);
  });

  it('an upload whose job cannot be queued (Redis connection gone) is removed again', async () => {
    const broken = await makeApi();
    try {
      broken.deps.redis.disconnect();
      const res = await broken.app.inject({
        method: 'POST',
        url: '/v1/sales/imports',
        headers: { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) },
        payload: CSV,
      });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      const dir = broken.config.IMPORT_DIR;
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    } finally {
      await broken.close();
    }
  });
});

describe('uploads the workers accept', () => {
  it('with IMPORT_DIR written relative, the job names the file by its absolute path, which the job schema accepts', async () => {
    const relativeDir = relative(process.cwd(), join(api.dir, 'relative-imports'));
    const other = await makeApi({ IMPORT_DIR: relativeDir });
    try {
      const res = await other.app.inject({
        method: 'POST',
        url: '/v1/jobs/user-import',
        headers: { 'content-type': 'text/csv', ...auth(OPERATOR_KEY) },
        payload: CSV,
      });
      expect(res.statusCode).toBe(202);
      const job = await other.deps.queues.get(QUEUES.userImport)!.getJob(res.json().jobId);
      expect(isAbsolute(job!.data.file)).toBe(true);
      expect(UserImportJobData.safeParse(job!.data).success).toBe(true);
      expect(readFileSync(job!.data.file, 'utf8')).toBe(CSV);
    } finally {
      await other.close();
    }
  });
});

describe('job options that would leave their folder are 400s naming the field', () => {
  const job = (type: string, payload: unknown) =>
    api.app.inject({
      method: 'POST',
      url: `/v1/jobs/${type}`,
      headers: auth(OPERATOR_KEY),
      payload: payload as object,
    });

  it.each([
    ['restore', { name: '../../etc/passwd' }, 'name'],
    ['restore', { name: '.hidden' }, 'name'],
    ['verify-backup', { name: 'a/b' }, 'name'],
    ['sales-sync', { source: 'csv', file: '/etc/passwd' }, 'file'],
    ['sales-sync', { source: 'csv', file: 'relative.csv' }, 'file'],
    ['user-import', { file: '/tmp/../etc/shadow' }, 'file'],
    ['user-import', { file: '/nonexistent/users.csv' }, 'file'],
  ])('%s %j', async (type, payload, field) => {
    const res = await job(type, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { path: string }) => e.path)).toContain(field);
  });

  it('a file under IMPORT_DIR is accepted; one that does not exist there is a 400', async () => {
    const missing = await job('user-import', { file: join(api.config.IMPORT_DIR, 'gone.csv') });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0]).toMatchObject({
      path: 'file',
      message: expect.stringMatching(/no such file/),
    });
    const file = join(api.config.IMPORT_DIR, 'users.csv');
    writeFileSync(file, CSV);
    expect((await job('user-import', { file })).statusCode).toBe(202);
    rmSync(file);
  });
});

describe('every bad request is a problem naming what is wrong', () => {
  it('a broken %-escape or an over-long path segment: problem+json, not Fastify’s own error body', async () => {
    const badEscape = await api.app.inject({ url: '/v1/jobs/%ff', headers: auth(OPERATOR_KEY) });
    expect(badEscape.statusCode).toBe(400);
    expect(badEscape.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(badEscape.json().detail).toMatch(/invalid %-escape/);
    const long = await api.app.inject({ url: `/v1/jobs/${'x'.repeat(300)}`, headers: auth(OPERATOR_KEY) });
    expect(long.statusCode).toBe(414);
    expect(long.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('a compressed body is a 415 (it would be read as garbage records or saved as a gzip file)', async () => {
    for (const [url, key, type] of [
      ['/v1/sales/batches', INGEST_KEY, 'application/x-ndjson'],
      ['/v1/sales/imports', OPERATOR_KEY, 'text/csv'],
      ['/v1/jobs/backup', OPERATOR_KEY, 'application/json'],
    ] as const) {
      const res = await api.app.inject({
        method: 'POST',
        url,
        headers: { ...auth(key), 'content-type': type, 'content-encoding': 'gzip' },
        payload: Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x0a, 0x41]),
      });
      expect(res.statusCode).toBe(415);
      expect(res.json().detail).toMatch(/Content-Encoding gzip/);
    }
    expect(leftInImportDir()).toEqual([]);
  });

  it.each([
    ['sales-sync', { source: 'api', url: 'file:///etc/passwd' }, 'url'],
    ['sales-sync', { source: 'api', days: 0 }, 'days'],
    ['backup-cleanup', { days: 1e300 }, 'days'],
    ['restore', { name: 42 }, 'name'],
  ])('job options %s %j: 400 naming the field', async (type, payload, field) => {
    const res = await api.app.inject({
      method: 'POST',
      url: `/v1/jobs/${type}`,
      headers: auth(OPERATOR_KEY),
      payload: payload as object,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { path: string }) => e.path)).toContain(field);
  });

  it.each([
    '/v1/rejects?offset=1e308',
    '/v1/rejects?limit=0',
    '/v1/rejects?limit=abc',
    `/v1/rejects?batchId=${'b'.repeat(201)}`,
    '/v1/rejects?source=a&source=b',
    '/v1/sales/summary?from=2026-02-30',
    '/v1/sales/summary?groupBy=day&groupBy=region',
  ])('query %s: 400 naming the parameter, before any job is made', async (url) => {
    const res = await api.app.inject({ url, headers: auth(OPERATOR_KEY) });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.length).toBeGreaterThan(0);
  });
});
