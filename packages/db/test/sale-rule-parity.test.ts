import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latestSaleDate, SALE_LIMITS, validateSales } from '@datasync/schemas';
import { tempDir } from '@datasync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CsvLayout, readCsvChunk, storeCsvChunk } from '../src/index.js';
import { SALE_FIELDS } from '../src/sale-rules-sql.js';
import { makeWriter } from './helpers.js';

/**
 * The JSON path (validateSales) and the CSV path (DuckDB's read_csv and the rule set in SQL) get
 * the same records and must give the same verdict: the same normalised sale, or the same reasons
 * (field paths and messages). Each case is one CSV row; JSON gets the cells as strings, and as
 * JSON numbers too where a number prints as the cell. (A CSV row whose every cell is empty is no
 * record at all, skipped like a blank line: that one has no JSON counterpart.)
 */

const COLUMNS = SALE_FIELDS;
type Row = Partial<Record<(typeof COLUMNS)[number], string>>;

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const base: Row = {
  date: '2026-01-15',
  user_id: '7',
  product_name: 'Laptop',
  quantity: '2',
  unit_price: '999.99',
  total_amount: '1999.98',
  region: 'North America',
};

const CASES: [string, Row][] = [
  ['a plain valid row', {}],
  ['an id', { id: 'INV-1' }],
  ['an id of 128 characters, non-ASCII', { id: 'é'.repeat(SALE_LIMITS.idMax) }],
  ['an id of 129 characters', { id: 'x'.repeat(SALE_LIMITS.idMax + 1) }],
  ['money with trailing zeros "12.50"', { unit_price: '12.50', quantity: '1', total_amount: '12.5' }],
  ['padded integers " 7 "', { user_id: ' 7 ', quantity: ' 2 ' }],
  ['quantity "1.0"', { quantity: '1.0', total_amount: '999.99' }],
  ['quantity "2.000"', { quantity: '2.000' }],
  ['quantity "1.10"', { quantity: '1.10' }],
  ['quantity "1e3"', { quantity: '1e3' }],
  ['quantity "+2"', { quantity: '+2' }],
  ['quantity "-2"', { quantity: '-2' }],
  ['quantity 0', { quantity: '0' }],
  ['quantity 1,000,000', { quantity: '1000000', unit_price: '1', total_amount: '1000000' }],
  ['quantity 1,000,001', { quantity: '1000001', unit_price: '1', total_amount: '1000001' }],
  ['quantity "00002"', { quantity: '00002' }],
  ['unit_price with 2 decimals', { unit_price: '0.01', quantity: '3', total_amount: '0.03' }],
  ['unit_price with 3 decimals', { unit_price: '1.234', quantity: '1', total_amount: '1.23' }],
  ['unit_price with trailing zeros "1.500"', { unit_price: '1.500', quantity: '1', total_amount: '1.5' }],
  ['unit_price ".5"', { unit_price: '.5' }],
  ['unit_price "5."', { unit_price: '5.' }],
  ['unit_price "1e3"', { unit_price: '1e3' }],
  ['unit_price below 1e9', { unit_price: '999999999.99', quantity: '1', total_amount: '999999999.99' }],
  ['unit_price 1e9', { unit_price: '1000000000', quantity: '1', total_amount: '1000000000' }],
  ['unit_price 0 with a total', { unit_price: '0', quantity: '1', total_amount: '0.01' }],
  ['total 0', { unit_price: '0', total_amount: '0.00' }],
  ['total too large', { total_amount: '10000000000000000' }],
  ['total off by 0.01', { total_amount: '1999.99' }],
  ['total off by -0.01', { total_amount: '1999.97' }],
  ['total off by 0.02', { total_amount: '2000.00' }],
  [
    'a large exact total',
    { quantity: '1000000', unit_price: '999999999.99', total_amount: '999999999990000.01' },
  ],
  [
    'a large total off by 0.02',
    { quantity: '1000000', unit_price: '999999999.99', total_amount: '999999999990000.02' },
  ],
  ['user_id 0', { user_id: '0' }],
  ['user_id 1.5', { user_id: '1.5' }],
  ['user_id the largest safe integer', { user_id: '9007199254740991' }],
  ['user_id above the largest safe integer', { user_id: '9007199254740992' }],
  ['user_id of 30 digits', { user_id: '123456789012345678901234567890' }],
  ['date 2026-02-30', { date: '2026-02-30' }],
  ['date 2024-02-29', { date: '2024-02-29' }],
  ['date 15/01/2026', { date: '15/01/2026' }],
  ['date padded', { date: ' 2026-01-15 ' }],
  ['date in year 0099', { date: '0099-01-01' }],
  ['date in year 0100', { date: '0100-01-01' }],
  ['date tomorrow (UTC)', { date: latestSaleDate() }],
  ['date after tomorrow', { date: day(2) }],
  [
    'every required field empty (an id keeps the row from being blank)',
    {
      id: 'X-1',
      date: '',
      user_id: '',
      product_name: '',
      quantity: '',
      unit_price: '',
      total_amount: '',
      region: '',
    },
  ],
  ['whitespace only', { product_name: '   ', region: '\u3000' }],
  ['names padded with Unicode spaces', { product_name: '\u00a0 Desk \u2003', region: '\ufeffEU\u3000' }],
  ['a tab in a name', { product_name: 'a\tb' }],
  ['a newline in a name', { product_name: 'line one\nline two' }],
  ['a CR alone in a name', { product_name: 'line one\rline two' }],
  ['a CRLF in a name', { product_name: 'line one\r\nline two' }],
  ['a CR at the end of a region (trimmed)', { region: 'EU\r' }],
  ['a NUL in a name', { product_name: 'a\u0000b' }],
  ['U+FFFD written as text in a name', { product_name: 'Caf\uFFFD' }],
  ['DEL in a region', { region: 'E\u007fU' }],
  ['a C1 control character', { product_name: 'a\u0085b' }],
  ['200 characters, non-ASCII', { product_name: 'ñ'.repeat(SALE_LIMITS.productNameMax) }],
  ['201 characters, non-ASCII', { product_name: 'ñ'.repeat(SALE_LIMITS.productNameMax + 1) }],
  ['200 emoji', { product_name: '😀'.repeat(SALE_LIMITS.productNameMax) }],
  ['region of 65 characters', { region: 'x'.repeat(65) }],
  ['quotes and commas in a name', { product_name: 'Desk, "standing"' }],
  ['several bad fields', { quantity: '0', region: '', unit_price: 'abc' }],
  // What DuckDB's own casts take but the rule set does not (or reads otherwise): a typed read
  // cannot stand in for the text checks.
  ['quantity "2.5" (a cast rounds it to 3)', { quantity: '2.5', total_amount: '2499.98' }],
  ['quantity "1_000"', { quantity: '1_000' }],
  ['quantity ".5"', { quantity: '.5' }],
  ['quantity "2."', { quantity: '2.' }],
  ['quantity "-0"', { quantity: '-0' }],
  ['quantity padded with a tab', { quantity: '\t2' }],
  ['quantity padded with a no-break space', { quantity: '\u00a02' }],
  ['user_id "+7"', { user_id: '+7' }],
  ['user_id "007"', { user_id: '007' }],
  ['user_id "7e0"', { user_id: '7e0' }],
  ['user_id "0x7"', { user_id: '0x7' }],
  ['unit_price "+999.99"', { unit_price: '+999.99' }],
  ['unit_price "0999.99"', { unit_price: '0999.99' }],
  ['unit_price "999.990" (3 decimals, the last 0)', { unit_price: '999.990' }],
  ['unit_price "999.991" (3 decimals)', { unit_price: '999.991' }],
  ['unit_price "999.99001" (a DECIMAL(18,4) cast rounds it)', { unit_price: '999.99001' }],
  ['unit_price "9.9999e2"', { unit_price: '9.9999e2' }],
  ['unit_price padded " 999.99 "', { unit_price: ' 999.99 ' }],
  ['total_amount ".98"', { quantity: '1', unit_price: '0.98', total_amount: '.98' }],
  ['total_amount "1999.980"', { total_amount: '1999.980' }],
  ['total_amount "1.99998e3"', { total_amount: '1.99998e3' }],
  ['total_amount "1,999.98"', { total_amount: '1,999.98' }],
  ['date "2026-1-15"', { date: '2026-1-15' }],
  ['date "20260115"', { date: '20260115' }],
  ['date "2026-01-15 00:00:00"', { date: '2026-01-15 00:00:00' }],
  ['date "+2026-01-15"', { date: '+2026-01-15' }],
];

const csvCell = (value: string | undefined) =>
  value === undefined ? '' : `"${value.replaceAll('"', '""')}"`;

let dir: ReturnType<typeof tempDir>;
let db: ReturnType<typeof makeWriter>;
beforeAll(() => {
  dir = tempDir('datasync-parity-');
  db = makeWriter(join(dir.path, 'parity.duckdb'), `test:lock:${randomUUID()}`);
});
afterAll(async () => {
  await db.close();
  dir.cleanup();
});

interface Verdicts {
  /** Reasons of each rejected row ("path: message"), by the row's position. */
  rejected: Map<number, string[]>;
  /** The stored sales, in a stable order. */
  accepted: unknown[];
}

const byContent = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** Runs the rows through the CSV path: one file, read and validated by DuckDB, then merged. */
async function csvVerdicts(rows: Row[]): Promise<Verdicts> {
  const file = join(dir.path, `${randomUUID()}.csv`);
  const lines = [COLUMNS.join(',')];
  const starts: number[] = [];
  const offsets: number[] = [];
  const lineOf: number[] = [];
  let line = 2;
  for (const [k, row] of rows.entries()) {
    starts.push(k);
    offsets.push(line - k);
    lineOf.push(line);
    const record = COLUMNS.map((c) => csvCell(row[c])).join(',');
    lines.push(record);
    line += record.split('\n').length;
  }
  writeFileSync(file, `${lines.join('\r\n')}\r\n`);
  const layout: CsvLayout = { header: COLUMNS, positions: Object.fromEntries(COLUMNS.map((c, i) => [c, i])) };
  const importId = randomUUID();
  const input = {
    file,
    layout,
    latestDate: latestSaleDate(),
    importId,
    source: `parity-${importId}`,
    records: rows.length,
  };
  await db.writer.transaction(async (tx) => {
    const read = await readCsvChunk(tx, input);
    expect({ rows: read.rows, malformed: read.malformed }).toEqual({ rows: rows.length, malformed: [] });
    return storeCsvChunk(tx, input, read, { lines: { starts, offsets }, malformed: [] });
  });
  return db.writer.read(async (conn) => {
    const sales = await conn.runAndReadAll(
      `SELECT external_id AS id, date::VARCHAR AS date, user_id, product_name, quantity,
              unit_price::VARCHAR AS unit_price, total_amount::VARCHAR AS total_amount, region
       FROM sales WHERE batch_id = $1`,
      [importId],
    );
    const rejects = await conn.runAndReadAll('SELECT row_number, reasons FROM rejects WHERE batch_id = $1', [
      importId,
    ]);
    const rejected = new Map<number, string[]>();
    for (const r of rejects.getRowObjects()) {
      const reasons = JSON.parse(String(r.reasons)) as { index: number; path: string; message: string }[];
      const k = lineOf.indexOf(Number(r.row_number));
      expect(k, `a reject on line ${r.row_number}, where no record starts`).toBeGreaterThanOrEqual(0);
      expect(reasons.every((x) => x.index === Number(r.row_number))).toBe(true);
      rejected.set(
        k,
        reasons.map((x) => `${x.path}: ${x.message}`),
      );
    }
    const accepted = sales
      .getRowObjectsJson()
      .map((s) => ({ ...s, user_id: Number(s.user_id), quantity: Number(s.quantity) }))
      .sort(byContent);
    return { rejected, accepted };
  });
}

function jsonVerdicts(records: Record<string, unknown>[]): Verdicts {
  const { accepted, rejected } = validateSales(records);
  return {
    rejected: new Map(rejected.map((r) => [r.index, r.reasons.map((x) => `${x.path}: ${x.message}`)])),
    accepted: [...accepted].sort(byContent),
  };
}

/** The same record with JSON numbers where a number prints as the cell does. */
function withNumbers(row: Row): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) =>
      k !== 'id' && k !== 'date' && v !== undefined && v !== '' && String(Number(v)) === v
        ? [k, Number(v)]
        : [k, v],
    ),
  );
}

describe('the JSON and CSV paths apply one rule set', () => {
  it.each(CASES)('%s: same verdict, same reasons', async (_name, overrides) => {
    const row = { ...base, ...overrides };
    const csv = await csvVerdicts([row]);
    expect(csv).toEqual(jsonVerdicts([row]));
    // JSON numbers: the same verdict on the same fields (a negative number is "out of range"
    // where the text "-2" is "not an integer": both rejected, for the same field).
    const paths = (v: Verdicts) => ({
      accepted: v.accepted,
      rejected: [...v.rejected.values()].map((r) => r.map((x) => x.split(':')[0])),
    });
    expect(paths(jsonVerdicts([withNumbers(row)]))).toEqual(paths(jsonVerdicts([row])));
  });

  it('agrees on every case read together from one file, each reject on its own line', async () => {
    const rows = CASES.map(([, overrides], i) => ({ ...base, product_name: `Case ${i}`, ...overrides }));
    const csv = await csvVerdicts(rows);
    const json = jsonVerdicts(rows);
    expect(csv.rejected.size).toBeGreaterThan(20);
    expect(csv).toEqual(json);
  });
});
