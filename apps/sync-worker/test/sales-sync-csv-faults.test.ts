import { randomUUID } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { findCsvImport, ImportFailedError } from '@datasync/db';
import type { CsvImportResult } from '@datasync/schemas';
import { describe, expect, it } from 'vitest';
import { InvalidCsvFileError } from '../src/sales-sync/csv-file.js';
import { CHUNKINGS, csvOf, HEADER, INTERNAL, row, setupCsvImport } from './csv-test-helpers.js';

/**
 * Files a new user's probes found, and their kin: each imports with every record accounted for
 * (stored, or rejected with its line and a reason), or fails once with a message meant for the
 * user. DuckDB's own messages (which name server paths) never reach the user.
 */

type Setup = ReturnType<typeof setupCsvImport>;

/** received = accepted + rejected = the records the test put in the file; rejects and sales agree. */
async function expectAccounted(
  t: Setup,
  result: CsvImportResult,
  expected: { records: number; accepted: number; rejectLines: number[] },
) {
  expect(result.received).toBe(expected.records);
  expect(result.received).toBe(result.accepted + result.rejected);
  expect(result.accepted).toBe(expected.accepted);
  expect(await t.sales()).toHaveLength(expected.accepted);
  const rejects = await t.rejects(result.importId);
  expect(rejects.items.map((r) => r.rowNumber)).toEqual(expected.rejectLines);
  for (const r of rejects.items) {
    expect(r.reasons.length).toBeGreaterThan(0);
    for (const reason of r.reasons) expect(reason.message).not.toMatch(INTERNAL);
  }
  for (const w of result.warnings) expect(w).not.toMatch(INTERNAL);
  return rejects.items;
}

describe('CSV import: line ends', () => {
  it.each(CHUNKINGS)(
    'imports mixed line ends (CRLF header, LF and CRLF rows, a CR alone) with exact lines: %s',
    async (_name, limits) => {
      const t = setupCsvImport(limits);
      const csv = [
        `${HEADER}\r\n`,
        `${row(1)}\n`, // line 2
        `${row(2)}\r\n`, // 3
        'S-3,2026-01-04,4,"two\r\nlines",1,1.00,1.00,EU\n', // 4-5: rejected, a newline in the name
        `${row(4, { quantity: 0 })}\r`, // 6: a CR alone ends it; rejected
        `${row(5)}\r\n`, // 7
        '\r\n', // 8: blank
        `${row(6)}`, // 9: no newline at the end
      ].join('');
      const result = await t.run(t.file('mixed.csv', csv));
      const rejects = await expectAccounted(t, result, { records: 6, accepted: 4, rejectLines: [4, 6] });
      expect(rejects[0]!.reasons.map((r) => r.message)).toEqual([
        'product_name must not contain control characters',
      ]);
      expect(rejects[1]!.reasons.map((r) => r.path)).toContain('quantity');
      expect((await t.sales()).map((s) => s.region)).toEqual(['EU', 'EU', 'EU', 'EU']);
    },
  );

  it.each(CHUNKINGS)('imports an LF file with one CRLF row: %s', async (_name, limits) => {
    const t = setupCsvImport(limits);
    const result = await t.run(t.file('one-crlf.csv', `${HEADER}\n${row(1)}\n${row(2)}\r\n${row(3)}\n`));
    await expectAccounted(t, result, { records: 3, accepted: 3, rejectLines: [] });
  });
});

const CLASS: [string, string | Buffer, { records: number; accepted: number; rejectLines: number[] }][] = [
  [
    'a CR alone inside a field (a line end: two records short of fields)',
    `${HEADER}\n${row(1)}\n${row(2).replace('Product', 'Pro\rduct')}\n${row(3)}\n`,
    { records: 4, accepted: 2, rejectLines: [3, 4] },
  ],
  [
    'CR CR LF after a record',
    `${HEADER}\n${row(1)}\r\r\n${row(2)}\n`,
    { records: 2, accepted: 2, rejectLines: [] },
  ],
  [
    'a NUL byte in a field',
    `${HEADER}\n${row(1)}\n${row(2).replace('Product', 'Pro\0duct')}\n${row(3)}\n`,
    { records: 3, accepted: 2, rejectLines: [3] },
  ],
  [
    'the last line without a newline',
    `${HEADER}\n${row(1)}\n${row(2)}`,
    { records: 2, accepted: 2, rejectLines: [] },
  ],
  [
    'a quote inside an unquoted field (kept as written)',
    `${HEADER}\n${row(1).replace('Product', 'Pro"duct')}\n`,
    { records: 1, accepted: 1, rejectLines: [] },
  ],
  [
    'text after a closing quote (DuckDB dropped the rest of the file)',
    `${HEADER}\n${row(1)}\n${row(2).replace('Product 2', '"Pro"duct')}\n${row(3)}\n${row(4)}\n`,
    { records: 4, accepted: 3, rejectLines: [3] },
  ],
  [
    'a space after a closing quote (DuckDB read one record more)',
    `${HEADER}\n${row(1)}\n${row(2).replace('Product 2', '"Pro" ')}\n${row(3)}\n`,
    { records: 3, accepted: 2, rejectLines: [3] },
  ],
  [
    '5,000 more columns',
    `${HEADER},${Array.from({ length: 5000 }, (_, i) => `x${i}`).join(',')}\n${row(1)}${',x'.repeat(5000)}\n`,
    { records: 1, accepted: 1, rejectLines: [] },
  ],
  [
    'other columns with repeated and empty names',
    `${HEADER},note,note,,\n${row(1)},a,b,c,d\n`,
    { records: 1, accepted: 1, rejectLines: [] },
  ],
  [
    'a header only, with a BOM and no newline',
    `\ufeff${HEADER}`,
    { records: 0, accepted: 0, rejectLines: [] },
  ],
  [
    'CR line ends only (classic Mac)',
    `${HEADER}\r${row(1)}\r${row(2)}\r`,
    { records: 2, accepted: 2, rejectLines: [] },
  ],
  [
    'a line of spaces, a tab',
    `${HEADER}\n${row(1)}\n   \n\t\n${row(3)}\n`,
    { records: 4, accepted: 2, rejectLines: [3, 4] },
  ],
  [
    "a record longer than DuckDB's 2 MB line",
    `${HEADER}\n${row(1)}\n${row(2).replace('Product 2', 'x'.repeat(3 << 20))}\n${row(3)}\n`,
    { records: 3, accepted: 2, rejectLines: [3] },
  ],
  [
    'a record whose quoted field holds a CR alone, in a CRLF file',
    `${HEADER}\r\n${row(1)}\r\nS-2,2026-01-02,3,"a\rb",1,1.00,1.00,EU\r\n${row(3)}\r\n`,
    { records: 3, accepted: 2, rejectLines: [3] },
  ],
];

describe('CSV import: what DuckDB reads badly is answered', () => {
  for (const [chunking, limits] of CHUNKINGS) {
    it.each(CLASS)(
      `%s: every record accounted for, no DuckDB text (${chunking})`,
      async (_name, csv, expected) => {
        const t = setupCsvImport(limits);
        const result = await t.run(t.file('probe.csv', csv));
        await expectAccounted(t, result, expected);
      },
    );
  }

  it('a chunk DuckDB cannot read fails the import once, for the user; its ledger row ends failed and nothing stays stored', async () => {
    const t = setupCsvImport({ rows: 1, bytes: 1 << 20 });
    const csv = csvOf([row(1), row(2), row(3), row(4)]);
    const path = t.file('changing.csv', csv);
    const importId = randomUUID();
    let commits = 0;
    const failed = t.run(path, {
      importId,
      onProgress: () => {
        if (++commits !== 1) return;
        // The file changes under the import (chunks 1-2 are copied by now): a CR alone in line 5.
        const fd = openSync(path, 'r+');
        writeSync(fd, '\r', csv.indexOf('Product 4'));
        closeSync(fd);
      },
    });
    await expect(failed).rejects.toThrow(InvalidCsvFileError);
    const message = await failed.catch((e: Error) => e.message);
    expect(message).toMatch(
      /^lines 5 to 5 of the file could not be read .*; nothing of the file was stored$/,
    );
    expect(message).not.toMatch(INTERNAL);
    const ledger = await t.writer.read((conn) => findCsvImport(conn, importId));
    expect(ledger).toMatchObject({ state: 'failed', error: message });
    expect(await t.sales()).toHaveLength(0);
    expect((await t.rejects(importId)).total).toBe(0);
    // Delivered again, the job answers the same reason without touching the file.
    await expect(t.run(path, { importId })).rejects.toThrow(ImportFailedError);
    await expect(t.run(path, { importId })).rejects.toThrow(message);
  });
});

describe('CSV import: records too long, header only', () => {
  it('a record with a 50 MB field is rejected with its line and "too long"; the others are stored', async () => {
    const t = setupCsvImport({ rows: 2, bytes: 1 << 20 });
    const csv = `${HEADER}\n${row(1)}\n${row(2).replace('Product 2', 'x'.repeat(50 << 20))}\n${row(3)}\n`;
    const result = await t.run(t.file('huge.csv', csv));
    const [reject] = await expectAccounted(t, result, { records: 3, accepted: 2, rejectLines: [3] });
    expect(reject!.reasons).toEqual([
      {
        index: 3,
        path: '',
        message: 'the record is too long: 52,428,835 bytes, where a record may have 1 MB',
      },
    ]);
    // Its raw text is its start only.
    expect(reject!.raw.length).toBeLessThan(10_000);
    expect(JSON.parse(reject!.raw)).toMatch(/^S-2,2026-01-03,3,x+…$/);
  });

  it('a header-only file completes with a warning', async () => {
    const t = setupCsvImport();
    const result = await t.run(t.file('header.csv', `${HEADER}\r\n`));
    expect(result).toMatchObject({ received: 0, accepted: 0, rejected: 0 });
    expect(result.warnings).toEqual(['the file has a header row but no records: nothing was imported']);
  });

  it('rows whose every cell is empty are skipped, and a warning says how many', async () => {
    const t = setupCsvImport();
    const result = await t.run(t.file('empty-rows.csv', `${HEADER}\n${row(1)}\n,,,,,,,\n${row(2)}\n`));
    await expectAccounted(t, result, { records: 2, accepted: 2, rejectLines: [] });
    expect(result.warnings).toEqual(['1 row(s) with every cell empty were skipped, as blank lines are']);
  });
});

describe('CSV import: bytes that are not UTF-8', () => {
  const latin1 = (text: string) => Buffer.from(text, 'latin1');

  it.each(CHUNKINGS)(
    'rejects only the records holding them, naming the field; the raw text shows U+FFFD, sales never: %s',
    async (_name, limits) => {
      const t = setupCsvImport(limits);
      const csv = Buffer.concat([
        Buffer.from(`${HEADER},note\n${row(1)},\n`),
        latin1(`S-2,2026-01-03,3,Caf\xe9 2,0,10.02,0.00,EU,\n`), // line 3: and a quantity of 0
        Buffer.from(`${row(3)},`),
        latin1('na\xefve\n'), // line 4: in a column the import ignores
        Buffer.from(`${row(4)},ok\n`),
      ]);
      const result = await t.run(t.file('latin1.csv', csv));
      const rejects = await expectAccounted(t, result, { records: 4, accepted: 2, rejectLines: [3, 4] });
      expect(rejects[0]!.reasons.map((r) => `${r.path}: ${r.message}`)).toEqual([
        'product_name: product_name must be valid UTF-8 text',
        'quantity: quantity must be between 1 and 1000000',
        'total_amount: total_amount must be greater than 0',
      ]);
      expect(rejects[1]!.reasons).toEqual([
        { index: 4, path: 'note', message: 'note must be valid UTF-8 text' },
      ]);
      expect(JSON.parse(rejects[0]!.raw)).toMatchObject({
        id: 'S-2',
        product_name: 'Caf\uFFFD 2',
        note: null,
      });
      expect(JSON.parse(rejects[1]!.raw)).toMatchObject({ id: 'S-3', note: 'na\uFFFDve' });
      expect(JSON.stringify(await t.sales())).not.toContain('\uFFFD');
      expect(result.warnings).toEqual([
        '2 record(s) hold bytes that are not UTF-8 and were rejected: if the file was saved in another encoding (Windows-1252, Latin-1), save it as CSV UTF-8',
      ]);
    },
  );

  it('a character cut short by the end of the file rejects the last record', async () => {
    const t = setupCsvImport();
    const csv = Buffer.concat([Buffer.from(`${HEADER}\n${row(1)}\n${row(2)}`), Buffer.from([0xc3])]);
    const result = await t.run(t.file('cut.csv', csv));
    const [reject] = await expectAccounted(t, result, { records: 2, accepted: 1, rejectLines: [3] });
    expect(reject!.reasons.map((r) => r.message)).toEqual(['region must be valid UTF-8 text']);
  });

  it('a file in another encoding through and through is refused, not quarantined record by record', async () => {
    const t = setupCsvImport();
    const rows = Array.from({ length: 10_001 }, (_, i) => row(i).replace('Product', 'Caf\xe9'));
    const failed = t.run(t.file('latin1-all.csv', latin1(csvOf(rows))));
    await expect(failed).rejects.toThrow(InvalidCsvFileError);
    await expect(failed).rejects.toThrow(/more than 10,000 records hold bytes that are not UTF-8/);
    expect(await t.stored()).toBe(0);
  });
});
