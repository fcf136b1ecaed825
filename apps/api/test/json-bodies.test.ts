import { QUEUES } from '@datasync/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, INGEST_KEY, makeApi, OPERATOR_KEY, sale } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
beforeAll(async () => {
  api = await makeApi({ MAX_BODY_BYTES: String(2 * 1024 * 1024) });
});
afterAll(() => api.close());

let start = 0;
const post = (payload: string | Buffer, contentType = 'application/json', url = '/v1/sales/batches') =>
  api.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': contentType, ...auth(url.startsWith('/v1/jobs') ? OPERATOR_KEY : INGEST_KEY) },
    payload,
  });
const job = async (jobId: string) => (await api.deps.queues.get(QUEUES.ingest)!.getJob(jobId))!;
const alive = async () => expect((await api.app.inject({ url: '/health' })).statusCode).toBe(200);
/** A valid record as JSON text with one field's value replaced by raw bytes. */
const withBytes = (field: string, bytes: number[]) => {
  const marker = `@@${field}@@`;
  const [before, after] = JSON.stringify(sale(start++, { [field]: marker })).split(marker);
  return Buffer.concat([Buffer.from(before!), Buffer.from(bytes), Buffer.from(after!)]);
};

describe('deeply nested JSON', () => {
  it.each([
    ['10,000 nested arrays', `${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'application/json'],
    ['100,000 nested arrays', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'application/json'],
    [
      'a record 100,000 objects deep',
      `[${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]`,
      'application/json',
    ],
    ['{"records": ...} deep', `{"records":[${'['.repeat(50_000)}${']'.repeat(50_000)}]}`, 'application/json'],
    [
      'an NDJSON line 100,000 deep',
      `${JSON.stringify(sale(1))}\n${'['.repeat(100_000)}\n`,
      'application/x-ndjson',
    ],
  ])('%s is a 400, answered at once, and the api stays fine', async (_name, body, type) => {
    const started = Date.now();
    const res = await post(body, type);
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/nests deeper than 64 levels/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await alive();
  });

  it('a deep job body is a 400 too, on every JSON route', async () => {
    for (const type of ['backup', 'restore', 'verify-backup', 'sales-sync', 'user-import', 'health-check']) {
      const res = await post(
        `{"name":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
        'application/json',
        `/v1/jobs/${type}`,
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().detail).toMatch(/nests deeper/);
    }
    await alive();
  });

  it('brackets inside strings do not count, and wide records are judged record by record', async () => {
    const res = await post(
      JSON.stringify([sale(start++, { product_name: '[[[[{{{{'.repeat(1000) }), sale(start++)]),
    );
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 1 });
    const wide = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    const res2 = await post(
      JSON.stringify([wide, sale(start++, { region: 'x'.repeat(500_000) }), sale(start++)]),
    );
    expect(res2.statusCode).toBe(202);
    expect(res2.json()).toMatchObject({ received: 3, accepted: 1, rejected: 2 });
  });
});

describe('the depth scan', () => {
  it('skips escaped quotes and backslashes inside strings, and NDJSON lines start afresh', async () => {
    const { checkJsonDepth } = await import('../src/ingest/json-text.js');
    const bytes = (text: string) => Buffer.from(text);
    expect(() => checkJsonDepth(bytes(`["a\\"${'['.repeat(100)}", "\\\\", 1]`))).not.toThrow();
    expect(() => checkJsonDepth(bytes(`["\\\\"${'['.repeat(100)}`))).toThrow(/nests deeper/);
    const brokenLines = `${'{not json\n'.repeat(100)}${JSON.stringify(sale(1))}\n`;
    expect(() => checkJsonDepth(bytes(brokenLines), true)).not.toThrow();
    expect(() => checkJsonDepth(bytes(brokenLines))).toThrow(/nests deeper/);
  });
});

describe('text that is not well-formed Unicode', () => {
  it('a lone surrogate escape rejects its record, naming the field; the rest of the batch is accepted', async () => {
    const body = `[${JSON.stringify(sale(start++)).replace('"Product', '"ab\\ud800cd Product')},${JSON.stringify(sale(start++))}]`;
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ received: 2, accepted: 1, rejected: 1 });
    expect(res.json().errors).toEqual([
      { index: 0, path: 'product_name', message: 'product_name must be valid UTF-8 text' },
    ]);
  });

  it('raw invalid UTF-8 bytes reject only the records holding them, naming the field; valid multi-byte text is kept as sent', async () => {
    const records = [
      withBytes('product_name', [0x61, 0xff, 0x62]), // a stray byte
      withBytes('region', [0xc3, 0x28]), // a broken 2-byte sequence
      withBytes('product_name', [0xed, 0xa0, 0x80]), // a surrogate encoded as UTF-8 (CESU-8)
      withBytes('product_name', [0x43, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0xf0, 0x9f, 0x98, 0x80]), // "Café 😀"
    ];
    const body = Buffer.concat([
      Buffer.from('['),
      ...records.flatMap((r, i) => (i ? [Buffer.from(','), r] : [r])),
      Buffer.from(']'),
    ]);
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ received: 4, accepted: 1, rejected: 3 });
    expect(
      res.json().errors.map((e: { index: number; path: string; message: string }) => [e.index, e.message]),
    ).toEqual([
      [0, 'product_name must be valid UTF-8 text'],
      [1, 'region must be valid UTF-8 text'],
      [2, 'product_name must be valid UTF-8 text'],
    ]);
    const stored = await job(res.json().jobId);
    expect(stored.data.sales.map((s: unknown[]) => s[3])).toEqual(['Café 😀']);
    // The rejected records' raw forms are valid text that still shows which bytes were bad.
    expect(stored.data.rejects[0].raw).toContain('a\\udcffb');
    expect(JSON.stringify(stored.data)).not.toContain('\ufffd');
  });

  it('the same over NDJSON; a line with an invalid byte outside a string is a rejected line', async () => {
    const body = Buffer.concat([
      withBytes('region', [0xfe]),
      Buffer.from('\n'),
      Buffer.from(JSON.stringify(sale(start++))),
      Buffer.from('\n{"date":'),
      Buffer.from([0xff]),
      Buffer.from('}\n'),
    ]);
    const res = await post(body, 'application/x-ndjson');
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ received: 3, accepted: 1, rejected: 2 });
    expect(res.json().errors[0]).toMatchObject({
      index: 0,
      path: 'region',
      message: 'region must be valid UTF-8 text',
    });
    expect(res.json().errors[1]).toMatchObject({ index: 2, path: '' });
  });

  it('a JSON array with an invalid byte outside any string is a 400; a job body with invalid UTF-8 is a 400', async () => {
    const bad = await post(Buffer.concat([Buffer.from('['), Buffer.from([0xff]), Buffer.from(']')]));
    expect(bad.statusCode).toBe(400);
    const jobBody = Buffer.concat([Buffer.from('{"name":"back'), Buffer.from([0xff]), Buffer.from('"}')]);
    const res = await post(jobBody, 'application/json', '/v1/jobs/restore');
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/not valid UTF-8/);
  });
});

describe('content types and repeated ids', () => {
  it('JSON sent as text/plain is a 415 naming the type to send, on the batch route and on a JSON job type', async () => {
    const batch = await post(JSON.stringify([sale(start++)]), 'text/plain');
    expect(batch.statusCode).toBe(415);
    expect(batch.json().detail).toMatch(/application\/json/);
    const jobRes = await post('{}', 'text/plain', '/v1/jobs/backup');
    expect(jobRes.statusCode).toBe(415);
  });

  it('the same id twice in one batch: both accepted, the receipt counts the duplicate (the last one is stored)', async () => {
    const res = await post(
      JSON.stringify([
        sale(start++, { id: 'dup-1' }),
        sale(start++, { id: 'dup-2' }),
        sale(start++, { id: 'dup-1' }),
        sale(start++),
        sale(start++),
      ]),
    );
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ received: 5, accepted: 5, rejected: 0, duplicates: 1 });
  });
});
