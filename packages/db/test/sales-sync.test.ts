import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CsvImportStart,
  claimCsvImport,
  commitSalesBatches,
  commitUpstreamWindow,
  failCsvImport,
  findCsvImport,
  ImportFailedError,
  ImportSupersededError,
  lastUpstreamSyncs,
  listRejects,
  recordCsvChunk,
  salesSummary,
  watermarkOf,
} from '../src/index.js';
import { makeBatch, makeSale, makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir('datasync-db-sync-');
  const w = makeWriter(join(dir.path, 'test.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  return w;
}

const start = (importId: string, overrides: Partial<CsvImportStart> = {}): CsvImportStart => ({
  importId,
  sha256: 'a'.repeat(64),
  fileName: 'sales.csv',
  bytes: 100,
  force: false,
  chunkRows: 1000,
  chunkBytes: 1 << 20,
  staleAfterMs: 60_000,
  ...overrides,
});

const chunk = { received: 3, accepted: 2, rejected: 1, duplicates: 0 };

describe('the CSV import ledger', () => {
  it('imports a file once: the same content again is a duplicate of the first import, unless forced', async () => {
    const { writer } = setup();
    const first = await writer.transaction((tx) => claimCsvImport(tx, start('imp-1')));
    expect(first.kind).toBe('started');
    await writer.transaction((tx) => recordCsvChunk(tx, 'imp-1', chunk, true));

    const again = await writer.transaction((tx) => claimCsvImport(tx, start('imp-2')));
    expect(again).toMatchObject({ kind: 'duplicate', of: { importId: 'imp-1', received: 3, state: 'done' } });
    const redelivered = await writer.transaction((tx) => claimCsvImport(tx, start('imp-1')));
    expect(redelivered).toMatchObject({ kind: 'finished', record: { accepted: 2, chunksDone: 1 } });

    const forced = await writer.transaction((tx) => claimCsvImport(tx, start('imp-3', { force: true })));
    expect(forced).toMatchObject({ kind: 'started', superseded: ['imp-1'] });
  });

  it('a forced import replaces the rows and rejects of the earlier import of the same file', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => claimCsvImport(tx, start('imp-1')));
    await writer.transaction(async (tx) => {
      await commitSalesBatches(tx, [{ ...makeBatch('imp-1', 5), source: 'csv', kind: 'csv' }]);
      await tx.conn.run(`INSERT INTO rejects VALUES ('csv', 'imp-1', 'csv', 7, '{}', '[]', now())`);
      await commitSalesBatches(tx, [{ ...makeBatch('other', 2), source: 'csv', kind: 'csv' }]);
      return recordCsvChunk(tx, 'imp-1', chunk, true);
    });
    await writer.transaction((tx) => claimCsvImport(tx, start('imp-2', { force: true })));
    const left = await writer.read(async (conn) => {
      const r = await conn.runAndReadAll('SELECT batch_id, count(*)::INTEGER AS n FROM sales GROUP BY ALL');
      return r.getRowObjectsJson();
    });
    expect(left).toEqual([{ batch_id: 'other', n: 2 }]);
    expect((await writer.read((conn) => listRejects(conn, { limit: 10, offset: 0 }))).total).toBe(0);
    await expect(writer.transaction((tx) => recordCsvChunk(tx, 'imp-1', chunk, false))).rejects.toThrow(
      ImportSupersededError,
    );
  });

  it('resumes its own running import, waits for a live one of the same file, and takes over an abandoned one', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => claimCsvImport(tx, start('imp-1')));
    await writer.transaction((tx) => recordCsvChunk(tx, 'imp-1', chunk, false));

    const resumed = await writer.transaction((tx) => claimCsvImport(tx, start('imp-1', { chunkRows: 5 })));
    expect(resumed).toMatchObject({
      kind: 'resume',
      record: { chunksDone: 1, chunkRows: 1000, received: 3 },
    });
    const busy = await writer.transaction((tx) => claimCsvImport(tx, start('imp-2')));
    expect(busy).toMatchObject({ kind: 'busy', other: { importId: 'imp-1' } });
    const takeover = await writer.transaction((tx) =>
      claimCsvImport(tx, start('imp-2', { staleAfterMs: 0 })),
    );
    expect(takeover).toMatchObject({ kind: 'started', superseded: ['imp-1'] });
    await expect(writer.transaction((tx) => claimCsvImport(tx, start('imp-1')))).rejects.toThrow(
      /replaced by a newer import/,
    );
  });
});

describe('a failed CSV import', () => {
  it('ends failed with its reason and nothing stored; redelivered it fails the same; the file can be imported again', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => claimCsvImport(tx, start('imp-1')));
    await writer.transaction(async (tx) => {
      await commitSalesBatches(tx, [{ ...makeBatch('imp-1', 5), source: 'csv', kind: 'csv' }]);
      await tx.conn.run(`INSERT INTO rejects VALUES ('csv', 'imp-1', 'csv', 7, '{}', '[]', now())`);
      return recordCsvChunk(tx, 'imp-1', chunk, false);
    });
    const reason = 'lines 5 to 9 of the file could not be read as CSV; nothing of the file was stored';
    expect(await writer.transaction((tx) => failCsvImport(tx, 'imp-1', reason))).toBe(true);
    expect(await writer.read((conn) => findCsvImport(conn, 'imp-1'))).toMatchObject({
      state: 'failed',
      error: reason,
    });
    expect((await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }))).totals.count).toBe(0);
    expect((await writer.read((conn) => listRejects(conn, { limit: 10, offset: 0 }))).total).toBe(0);
    // Failed once, it stays failed: no second failure, no resume.
    expect(await writer.transaction((tx) => failCsvImport(tx, 'imp-1', 'again'))).toBe(false);
    await expect(writer.transaction((tx) => claimCsvImport(tx, start('imp-1')))).rejects.toThrow(
      ImportFailedError,
    );
    // The same file uploaded again is neither a duplicate of it nor blocked by it.
    const again = await writer.transaction((tx) => claimCsvImport(tx, start('imp-2')));
    expect(again).toMatchObject({ kind: 'started', superseded: [] });
    expect(await writer.read((conn) => findCsvImport(conn, 'imp-1'))).toMatchObject({ state: 'failed' });
  });
});

describe('the upstream window replace', () => {
  const window = { from: '2026-01-10', to: '2026-01-12' };
  const describeRun = (replaced: number) => ({ replaced });

  it('replaces only its source and window, upserts ids outside it, and moves the watermark', async () => {
    const { writer } = setup();
    await writer.transaction((tx) =>
      commitSalesBatches(tx, [
        {
          ...makeBatch('old', 0),
          source: 'upstream:shop',
          sales: [
            makeSale(1, { date: '2026-01-09' }),
            makeSale(2, { date: '2026-01-10' }),
            makeSale(3, { date: '2026-01-12' }),
            makeSale(4, { date: '2026-01-13' }),
            makeSale(5, { date: '2026-01-01', id: 'S-5' }),
          ],
        },
        { ...makeBatch('other-source', 0), source: 'shop', sales: [makeSale(6, { date: '2026-01-11' })] },
      ]),
    );
    const pulled = [makeSale(7, { date: '2026-01-11' }), makeSale(8, { date: '2026-01-12', id: 'S-5' })];
    const run = await writer.transaction((tx) =>
      commitUpstreamWindow(tx, {
        runId: 'run-1',
        source: 'upstream:shop',
        window,
        pages: 1,
        received: 3,
        sales: pulled,
        rejects: [{ index: 2, raw: '{"bad":true}', reasons: [{ index: 2, path: '', message: 'bad' }] }],
        describe: describeRun,
      }),
    );
    expect(run).toEqual({ result: { replaced: 2 }, duplicate: false });
    const rows = await writer.read(async (conn) => {
      const r = await conn.runAndReadAll(
        'SELECT source, date::VARCHAR AS date, external_id FROM sales ORDER BY source, date',
      );
      return r.getRowObjectsJson();
    });
    expect(rows).toEqual([
      { source: 'shop', date: '2026-01-11', external_id: null },
      { source: 'upstream:shop', date: '2026-01-09', external_id: null },
      { source: 'upstream:shop', date: '2026-01-11', external_id: null },
      { source: 'upstream:shop', date: '2026-01-12', external_id: 'S-5' },
      { source: 'upstream:shop', date: '2026-01-13', external_id: null },
    ]);
    expect(await writer.read((conn) => watermarkOf(conn, 'upstream:shop'))).toBe('2026-01-12');
    expect(await writer.read((conn) => lastUpstreamSyncs(conn))).toMatchObject([{ source: 'upstream:shop' }]);
    const rejects = await writer.read((conn) =>
      listRejects(conn, { batchId: 'run-1', limit: 10, offset: 0 }),
    );
    expect(rejects.items).toMatchObject([{ source: 'upstream:shop', rowNumber: 2, raw: '{"bad":true}' }]);

    // The same run again (a redelivered job) writes nothing and answers as the first time.
    const again = await writer.transaction((tx) =>
      commitUpstreamWindow(tx, { ...runOf(pulled), runId: 'run-1', describe: describeRun }),
    );
    expect(again).toEqual({ result: { replaced: 2 }, duplicate: true });
    const total = await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }));
    expect(total.totals.count).toBe(5);
  });

  it('a re-run over the same window replaces it, never duplicates; a failed run changes nothing', async () => {
    const { writer } = setup();
    const pulled = [makeSale(1, { date: '2026-01-10' }), makeSale(2, { date: '2026-01-11' })];
    await writer.transaction((tx) =>
      commitUpstreamWindow(tx, { ...runOf(pulled), runId: 'run-1', describe: describeRun }),
    );
    const second = await writer.transaction((tx) =>
      commitUpstreamWindow(tx, { ...runOf(pulled), runId: 'run-2', describe: describeRun }),
    );
    expect(second.result).toEqual({ replaced: 2 });
    await expect(
      writer.transaction(async (tx) => {
        await commitUpstreamWindow(tx, {
          ...runOf([]),
          runId: 'run-3',
          window: { from: '2026-01-10', to: '2026-01-20' },
          describe: describeRun,
        });
        throw new Error('the pull failed after the delete');
      }),
    ).rejects.toThrow('the pull failed');
    expect(await writer.read((conn) => watermarkOf(conn, 'upstream:shop'))).toBe('2026-01-12');
    const summary = await writer.read((conn) => salesSummary(conn, { groupBy: 'day' }));
    expect(summary.rows.map((r) => [r.key, r.count])).toEqual([
      ['2026-01-10', 1],
      ['2026-01-11', 1],
    ]);
  });

  function runOf(sales: ReturnType<typeof makeSale>[]) {
    return { source: 'upstream:shop', window, pages: 1, received: sales.length, sales, rejects: [] };
  }
});
