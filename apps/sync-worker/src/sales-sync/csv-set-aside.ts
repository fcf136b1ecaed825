import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import type { CsvLayout, SetAsideReject } from '@datasync/db';
import { SALE_CSV_OPTIONAL_COLUMNS, SALE_CSV_REQUIRED_COLUMNS, validateSaleRecord } from '@datasync/schemas';
import { type CsvFileInfo, MAX_RECORD_BYTES, type SetAsideRecord } from './csv-file.js';
import { recordCells } from './csv-text.js';

/**
 * The records the file check set aside (csv-file.ts), read back from the uploaded file and made
 * rejects by the worker: DuckDB never sees them. A record with bytes that are not UTF-8 is
 * rejected naming each such field ("<field> must be valid UTF-8 text", as the JSON path says it)
 * and with what the sale rules say of its other fields; one too long, unread but for its start;
 * one with text after a closing quote, with the message DuckDB's rejects gave it.
 * The raw text stored shows each invalid byte as U+FFFD: it is valid text itself.
 */

const SALE_COLUMNS: readonly string[] = [...SALE_CSV_OPTIONAL_COLUMNS, ...SALE_CSV_REQUIRED_COLUMNS];
/** How much of a record too long to read is kept as its raw text. */
const RAW_PREFIX = 8192;

export async function readSetAside(
  file: string,
  info: Pick<CsvFileInfo, 'layout' | 'format'>,
  records: readonly SetAsideRecord[],
  latestDate: string,
): Promise<SetAsideReject[]> {
  if (records.length === 0) return [];
  const handle = await open(file, 'r');
  try {
    const rejects: SetAsideReject[] = [];
    for (const record of records) {
      const length = record.end - record.start;
      const buf = Buffer.alloc(record.reason === 'too-long' ? Math.min(length, RAW_PREFIX) : length);
      const { bytesRead } = await handle.read(buf, 0, buf.length, record.start);
      const bytes = buf.subarray(0, bytesRead);
      if (record.reason === 'bad-quote') {
        rejects.push({
          line: record.line,
          raw: JSON.stringify(bytes.toString('utf8').replace(/\r?\n$|\r$/, '')),
          reasons: [
            {
              path: '',
              message: 'a quoted field is followed by other characters (a quote inside quotes is written "")',
            },
          ],
        });
      } else if (record.reason === 'too-long') {
        rejects.push({
          line: record.line,
          raw: JSON.stringify(`${bytes.toString('utf8')}…`),
          reasons: [
            {
              path: '',
              message: `the record is too long: ${length.toLocaleString('en')} bytes, where a record may have ${(MAX_RECORD_BYTES >> 20).toString()} MB`,
            },
          ],
        });
      } else if (info.format === 'ndjson') {
        rejects.push({
          line: record.line,
          raw: JSON.stringify(bytes.toString('utf8').replace(/\r?\n$/, '')),
          reasons: [{ path: '', message: 'the line is not valid UTF-8 text' }],
        });
      } else rejects.push(notUtf8Reject(record.line, bytes, info.layout, latestDate));
    }
    return rejects;
  } finally {
    await handle.close();
  }
}

function notUtf8Reject(line: number, bytes: Buffer, layout: CsvLayout, latestDate: string): SetAsideReject {
  const cells = recordCells(bytes);
  const name = (i: number) => {
    const written = layout.header[i];
    if (written === undefined || written === '') return `column ${i + 1}`;
    return SALE_COLUMNS.includes(written.toLowerCase()) ? written.toLowerCase() : written;
  };
  const bad = cells.flatMap((cell, i) => (isUtf8(cell) ? [] : [name(i)]));
  const reasons = bad.map((path) => ({ path, message: `${path} must be valid UTF-8 text` }));
  if (cells.length !== layout.header.length) {
    reasons.push({
      path: '',
      message: `the record has ${cells.length} fields; the header has ${layout.header.length}`,
    });
    return { line, raw: JSON.stringify(bytes.toString('utf8').replace(/\r?\n$|\r$/, '')), reasons };
  }
  // The rule set on the other fields, so the reject says all that is wrong at once.
  const sale: Record<string, string> = {};
  for (const [column, at] of Object.entries(layout.positions)) {
    const text = cells[at]!.toString('utf8');
    if (text !== '') sale[column] = text;
  }
  const checked = validateSaleRecord(sale, latestDate);
  for (const e of checked.errors ?? []) if (!bad.includes(e.path)) reasons.push(e);
  const raw = Object.fromEntries(
    layout.header.map((h, i) => [h, cells[i]!.length > 0 ? cells[i]!.toString('utf8') : null]),
  );
  return { line, raw: JSON.stringify(raw), reasons };
}
