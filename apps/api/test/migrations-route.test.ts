import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { JOBS, QUEUES } from '@datasync/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, makeApi, OPERATOR_KEY } from './helpers.js';

let api: Awaited<ReturnType<typeof makeApi>>;
beforeAll(async () => {
  api = await makeApi();
});
afterAll(() => api.close());

const OLD_FILE = Buffer.from('DUCK pretend old database bytes');
const leftInImportDir = () =>
  existsSync(api.config.IMPORT_DIR)
    ? readdirSync(api.config.IMPORT_DIR).filter((f) => !f.startsWith('.'))
    : [];
const post = (url: string, headers: Record<string, string> = {}) =>
  api.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/octet-stream', ...auth(OPERATOR_KEY), ...headers },
    payload: OLD_FILE,
  });

describe('POST /v1/migrations', () => {
  it('saves the old file under IMPORT_DIR and queues a migrate job carrying its path and options, never its contents', async () => {
    const res = await post(
      '/v1/migrations?dryRun=true&map=total_amount=amount&map=sales=orders&name=old.duckdb',
    );
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ type: JOBS.migrate, queue: QUEUES.salesSync });
    const job = await api.deps.queues.get(QUEUES.salesSync)!.getJob(res.json().jobId);
    expect(job?.name).toBe(JOBS.migrate);
    expect(job?.data).toEqual({
      file: expect.stringContaining(api.config.IMPORT_DIR),
      dryRun: true,
      map: ['total_amount=amount', 'sales=orders'],
      originalName: 'old.duckdb',
    });
    expect(readFileSync(job!.data.file)).toEqual(OLD_FILE);
    await job!.remove();
  });

  it('a mapping entry that names no field is a 400 naming it, and nothing is written', async () => {
    const before = leftInImportDir();
    const res = await post('/v1/migrations?map=amount=total');
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json())).toContain('map entry \\"amount=total\\": amount is not a field');
    const bad = await post('/v1/migrations?map=no-equals-sign');
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json())).toContain(
      'must be FIELD=OLD_COLUMN, TABLE.FIELD=OLD_COLUMN or TABLE=OLD_TABLE',
    );
    expect(leftInImportDir()).toEqual(before);
  });

  it('an old database posted to POST /v1/jobs/migrate is a 415 that points to POST /v1/migrations', async () => {
    const res = await post('/v1/jobs/migrate');
    expect(res.statusCode).toBe(415);
    expect(res.json().detail).toBe('an old database file is uploaded to POST /v1/migrations');
  });
});
