import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { salesSummary, WriterLock } from '@datasync/db';
import { describe, expect, it } from 'vitest';
import { InvalidCsvFileError } from '../src/sales-sync/csv-file.js';
import { cleanups, csvOf, HEADER, row, setupCsvImport as setup } from './csv-test-helpers.js';

describe('CSV import', () => {
  it('reads any column order, a BOM, CRLF, quoted commas, quotes and newlines and blank lines; every record is stored or quarantined with its line', async () => {
    const t = setup();
    const csv = [
      '\uFEFFregion,total_amount,unit_price,quantity,product_name,user_id,date,id,note',
      'EU,1999.98,999.99,2,Laptop,1,2026-01-10,A-1,ok', // line 2
      'EU,450.00,450.00,1,"Desk, standing",2,2026-01-10,A-2,', // 3
      '', // 4
      'APAC,29.70,9.90,3,"Cable ""USB-C""",3,2026-01-11,A-3,"a note\r\non two lines"', // 5-6
      'EU,999.00,120.00,1,Chair,4,2026-01-11,A-4,', // 7: total off
      'EU,10,10,1,"Two\r\nlines",5,2026-01-11,,', // 8-9: a newline in the name
      'NA,1,1,1,Pen,6,2026-01-11', // 10: 7 fields of 9
      ',,,,,,,,', // 11: no value at all, skipped like a blank line
      'NA,5.00,5,1,  Pencil  ,7,2026-01-12,A-5,', // 12
      '',
      '',
    ].join('\r\n');
    const importId = randomUUID();
    const result = await t.run(t.file('mixed.csv', csv), { importId });
    expect(result).toMatchObject({ received: 7, accepted: 4, rejected: 3, duplicates: 0, duplicateOf: null });
    expect(await t.sales()).toEqual([
      expect.objectContaining({
        id: 'A-1',
        product_name: 'Laptop',
        unit_price: '999.99',
        total_amount: '1999.98',
      }),
      expect.objectContaining({ id: 'A-2', product_name: 'Desk, standing', region: 'EU' }),
      expect.objectContaining({ id: 'A-3', product_name: 'Cable "USB-C"', quantity: 3, date: '2026-01-11' }),
      expect.objectContaining({
        id: 'A-5',
        product_name: 'Pencil',
        unit_price: '5.00',
        total_amount: '5.00',
      }),
    ]);
    const rejected = await t.rejects(importId);
    expect(rejected.items.map((r) => [r.rowNumber, r.reasons.map((x) => `${x.path}: ${x.message}`)])).toEqual(
      [
        [7, ['total_amount: total_amount 999.00 is not within 0.01 of quantity x unit_price (120.00)']],
        [8, ['product_name: product_name must not contain control characters']],
        [10, [': the record has 7 fields; the header has 9']],
      ],
    );
    expect(JSON.parse(rejected.items[0]!.raw)).toMatchObject({
      region: 'EU',
      product_name: 'Chair',
      id: 'A-4',
    });
    expect(JSON.parse(rejected.items[2]!.raw)).toBe('NA,1,1,1,Pen,6,2026-01-11');
    expect(rejected.items.every((r) => r.source === 'csv' && r.batchId === importId)).toBe(true);
  });

  it('imports the same file once: again it is a no-op, forced it replaces the first import without doubling', async () => {
    const t = setup();
    const csv = csvOf([row(1, { id: '' }), row(2, { id: '' }), 'bad,row']);
    const first = await t.run(t.file('a.csv', csv));
    expect(first).toMatchObject({ received: 3, accepted: 2, rejected: 1 });
    const again = await t.run(t.file('b.csv', csv));
    expect(again).toMatchObject({ duplicateOf: first.importId, received: 3, accepted: 0, duplicates: 3 });
    expect(again.warnings).toEqual([`the same file was imported before (import ${first.importId})`]);
    const forced = await t.run(t.file('c.csv', csv), { force: true });
    expect(forced).toMatchObject({ accepted: 2, rejected: 1, duplicateOf: null });
    expect(await t.sales()).toHaveLength(2);
    expect((await t.rejects(first.importId)).total).toBe(0);
    expect((await t.rejects(forced.importId)).total).toBe(1);
  });

  it('upserts by (source, id): a later file updates the sales it names; in a file the last occurrence wins', async () => {
    const t = setup({ rows: 2, bytes: 1 << 20 });
    await t.run(t.file('a.csv', csvOf([row(1), row(2), row(3, { id: '' })])));
    const update = await t.run(
      t.file(
        'b.csv',
        csvOf([row(2, { quantity: 9 }), row(4), row(4, { quantity: 5 }), row(2, { quantity: 7 })]),
      ),
    );
    // S-2 replaces a stored sale and repeats in the file (in the next chunk); S-4 repeats within a chunk.
    expect(update).toMatchObject({ received: 4, accepted: 4, duplicates: 3, chunks: 2 });
    const stored = await t.sales();
    expect(stored.map((s) => [s.id, s.quantity])).toEqual([
      ['S-1', 2],
      ['S-2', 7],
      [null, 1],
      ['S-4', 5],
    ]);
  });

  it('the last occurrence of an id wins however its rows are written: canonical, loosely, or between rejected ones', async () => {
    const t = setup({ rows: 1000, bytes: 1 << 20 });
    const lines = [
      'S-1,2026-01-02,1,Pen,1,2.00,2.00,EU', // line 2: canonical (inserted straight from the file)
      'S-1,2026-01-02,1,Pen, 5 ,2.00,10.00,EU', // line 3: loosely written (through the whole rule set)
      'S-9,2026-01-02,1,Pen,0,2.00,0.00,EU', // line 4: rejected
      'S-2,2026-01-02,1,Pen,2.0,2.00,4.00,EU',
      'S-2,2026-01-02,1,Pen,3,2.00,6.00,EU',
      'S-3,2026-01-02,1,Pen,1,2.00,2.00,EU',
      'S-3,2026-01-02,1,Pen,4.00,2.00,8.00,EU',
      'S-4,2026-01-02,1,Pen,1,2.00,2.00,EU',
    ];
    const result = await t.run(t.file('mixed.csv', csvOf(lines)));
    expect(result).toMatchObject({ received: 8, accepted: 7, rejected: 1, duplicates: 3, chunks: 1 });
    const stored = await t.sales();
    expect(stored.map((s) => [s.id, s.quantity, s.total_amount])).toEqual([
      ['S-1', 5, '10.00'],
      ['S-2', 3, '6.00'],
      ['S-3', 4, '8.00'],
      ['S-4', 1, '2.00'],
    ]);
    const rejects = await t.rejects(result.importId);
    expect(rejects.items.map((r) => r.rowNumber)).toEqual([4]);
  });

  it.each([
    [
      'not UTF-8 in its header',
      Buffer.from(`${HEADER},Caf\xe9\nS-1,2026-01-10,1,Pen,1,1,1,EU,x\n`, 'latin1'),
      /not UTF-8 text \(invalid byte at offset 72, in the header row\)/,
    ],
    [
      'a spreadsheet',
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0xff, 0xfe, 0x00]),
      /not UTF-8.*spreadsheet/,
    ],
    ['UTF-16', Buffer.from(`\ufeff${HEADER}\n`, 'utf16le'), /UTF-16/],
    [
      'missing columns',
      'id,date,user_id,product,quantity,unit_price,total_amount\nS-1,2026-01-10,1,Pen,1,1,1\n',
      /lacks product_name, region/,
    ],
    ['JSON, not CSV', '[{"date":"2026-01-10","user_id":1}]\n', /lacks date, user_id, product_name/],
    ['a repeated column', `${HEADER},region\n`, /repeats region/],
    [
      'an unclosed quote',
      csvOf([row(1), 'S-2,2026-01-10,2,"Pen,1,1,1,EU', row(3)]),
      /quoted field that starts on line 3 is never closed/,
    ],
    ['empty', '', /empty/],
  ])('a file that is %s fails naming the problem and stores nothing', async (_name, content, message) => {
    const t = setup({ rows: 1, bytes: 1 << 20 });
    const failed = t.run(t.file('bad.csv', content));
    await expect(failed).rejects.toThrow(InvalidCsvFileError);
    await expect(failed).rejects.toThrow(message);
    expect(await t.stored()).toBe(0);
  });

  it('commits chunk by chunk; interrupted after a chunk, the import resumes where it stopped, with exact counts and lines', async () => {
    const t = setup({ rows: 4, bytes: 1 << 20 });
    const rows = Array.from({ length: 10 }, (_, i) => (i === 6 ? row(i, { quantity: 0 }) : row(i)));
    const path = t.file('ten.csv', csvOf(rows));
    const importId = randomUUID();
    let commits = 0;
    const crash = t.run(path, {
      importId,
      onProgress: () => {
        if (++commits === 2) throw new Error('worker killed after its second chunk');
      },
    });
    await expect(crash).rejects.toThrow('worker killed');
    expect((await t.writer.read((conn) => salesSummary(conn, { groupBy: 'day' }))).totals.count).toBe(7);

    const resumed = await t.run(path, { importId });
    expect(resumed).toMatchObject({ received: 10, accepted: 9, rejected: 1, chunks: 3 });
    expect(await t.sales()).toHaveLength(9);
    const rejected = await t.rejects(importId);
    expect(rejected.items.map((r) => r.rowNumber)).toEqual([8]);
    expect(existsSync(join(t.importDir, '.chunks', importId))).toBe(false);
  });

  it('hands the writer lock to a waiting process between chunks', async () => {
    const t = setup({ rows: 500, bytes: 1 << 20 });
    const path = t.file('many.csv', csvOf(Array.from({ length: 5000 }, (_, i) => row(i))));
    let progress = 0;
    const importing = t.run(path, {
      onProgress: (p) => {
        progress = p;
      },
    });
    const otherRedis = t.redis.duplicate();
    const other = new WriterLock({ redis: otherRedis, key: t.lockKey, leaseMs: 2_000 });
    cleanups.push(
      () => otherRedis.disconnect(),
      () => other.close(),
    );
    let seenAtHandover = -1;
    while (progress === 0) await delay(5);
    await other.acquire();
    seenAtHandover = progress;
    await other.release();
    const result = await importing;
    expect(seenAtHandover).toBeGreaterThan(0);
    expect(seenAtHandover).toBeLessThan(100);
    expect(result).toMatchObject({ received: 5000, accepted: 5000, chunks: 10 });
    expect(await t.sales()).toHaveLength(5000);
  });
});
