import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { type CsvLayout, describeParquetFile, NDJSON_HEADER } from '@datasync/db';
import {
  SALE_CSV_OPTIONAL_COLUMNS,
  SALE_CSV_REQUIRED_COLUMNS,
  type SalesFileFormat,
} from '@datasync/schemas';
import {
  type ChunkLimits,
  ChunkPlanner,
  type CsvFileInfo,
  InvalidCsvFileError,
  inspectCsvFile,
} from './csv-file.js';
import { incompleteTail, invalidUtf8Offsets } from './csv-text.js';

/**
 * Sales files beyond CSV: Parquet and NDJSON are planned into the same chunks as a CSV
 * (CsvFileInfo) and go through the same import (csv-import.ts): ledger by sha256, chunks, rules,
 * quarantine, upsert. Only the reading step differs (packages/db file-cells.ts).
 */

const PAR1 = Buffer.from('PAR1');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const SALE_COLUMNS: readonly string[] = [...SALE_CSV_OPTIONAL_COLUMNS, ...SALE_CSV_REQUIRED_COLUMNS];

/**
 * The format of a file by its content: Parquet begins and ends with `PAR1`; a file whose first
 * character (after a BOM and spaces) is `{` is NDJSON (a sales CSV starts with its header); else CSV.
 */
export async function detectFileFormat(path: string): Promise<SalesFileFormat> {
  const stat = await lstat(path).catch(() => null);
  if (!stat?.isFile() || stat.size === 0) return 'csv'; // the CSV check names the problem
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(4096, stat.size));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(4);
    if (stat.size >= 8) await handle.read(tail, 0, 4, stat.size - 4);
    if (head.subarray(0, 4).equals(PAR1) && tail.equals(PAR1)) return 'parquet';
    const text = head.subarray(head.subarray(0, 3).equals(BOM) ? 3 : 0).toString('utf8');
    return text.trimStart().startsWith('{') ? 'ndjson' : 'csv';
  } finally {
    await handle.close();
  }
}

export async function inspectSalesFile(
  path: string,
  format: SalesFileFormat,
  limits: ChunkLimits,
): Promise<CsvFileInfo> {
  if (format === 'parquet') return inspectParquetFile(path, limits);
  if (format === 'ndjson') return inspectNdjsonFile(path, limits);
  return inspectCsvFile(path, limits);
}

async function fileSize(path: string): Promise<number> {
  const stat = await lstat(path).catch(() => null);
  if (!stat) throw new InvalidCsvFileError('the uploaded file is gone');
  if (!stat.isFile()) throw new InvalidCsvFileError('the import path is not a regular file');
  if (stat.size === 0) throw new InvalidCsvFileError('the file is empty');
  return stat.size;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const buf of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(buf as Buffer);
  return hash.digest('hex');
}

/** DuckDB types a sale column may have in Parquet: text, numbers, dates. */
const ACCEPTED_TYPE =
  /^(VARCHAR|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|DATE)$/;

/**
 * A Parquet file: its footer read by DuckDB (rows, columns); the sale columns found by name (trimmed,
 * any case, like a CSV header; other columns are not read); chunks are ranges of rows. A column of
 * a type no sale value has (a timestamp, a list, a blob) refuses the file, naming it.
 */
async function inspectParquetFile(path: string, limits: ChunkLimits): Promise<CsvFileInfo> {
  const bytes = await fileSize(path);
  let described: Awaited<ReturnType<typeof describeParquetFile>>;
  try {
    described = await describeParquetFile(path);
  } catch {
    throw new InvalidCsvFileError('the file is not a readable Parquet file');
  }
  const names = described.columns.map((c) => c.name.trim().toLowerCase());
  const missing = SALE_CSV_REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new InvalidCsvFileError(
      `the Parquet file lacks the column(s) ${missing.join(', ')} (it has ${described.columns.map((c) => c.name).join(', ')})`,
    );
  }
  const repeated = SALE_COLUMNS.filter((c) => names.indexOf(c) !== names.lastIndexOf(c));
  if (repeated.length > 0)
    throw new InvalidCsvFileError(`the Parquet file repeats the column(s) ${repeated.join(', ')}`);
  const columns: string[] = [];
  const positions: CsvLayout['positions'] = {};
  for (const sale of SALE_COLUMNS) {
    const at = names.indexOf(sale);
    if (at === -1) continue;
    const column = described.columns[at]!;
    if (!ACCEPTED_TYPE.test(column.type)) {
      throw new InvalidCsvFileError(
        `the Parquet column ${column.name} has the type ${column.type}: a sale's ${sale} is text, a number${sale === 'date' ? ' or a DATE' : ''}`,
      );
    }
    positions[sale as keyof CsvLayout['positions']] = columns.length;
    columns.push(column.name);
  }
  const chunks: CsvFileInfo['chunks'] = [];
  for (let start = 0; start < described.rows || chunks.length === 0; start += limits.rows) {
    const end = Math.min(start + limits.rows, described.rows);
    chunks.push({
      index: chunks.length,
      start,
      end,
      records: end - start,
      breaks: [{ record: 0, line: start + 1 }],
      setAside: [],
    });
  }
  return {
    format: 'parquet',
    columns,
    sha256: await sha256Of(path),
    bytes,
    layout: { header: columns, positions },
    headerBytes: Buffer.alloc(0),
    records: described.rows,
    chunks,
    normalize: false,
    setAside: { notUtf8: 0, tooLong: 0, badQuote: 0 },
  };
}

/**
 * An NDJSON file, streamed once (any size): its sha256, where each line starts (every line is a
 * record, blank ones skipped later; the line number is the record number), the lines holding bytes
 * that are not UTF-8 or longer than 1 MB set aside as the CSV check does (DuckDB would refuse the
 * whole file), and the chunk plan. A file with CR line ends has its chunk files rewritten with LF.
 */
async function inspectNdjsonFile(path: string, limits: ChunkLimits): Promise<CsvFileInfo> {
  const bytes = await fileSize(path);
  const hash = createHash('sha256');
  const planner = new ChunkPlanner(limits);
  let offset = 0;
  let carry = Buffer.alloc(0);
  let lineStart = 0;
  let line = 1;
  let cr = false;
  /** A CR ended the previous buffer: a LF starting this one belongs to its line end. */
  let pendingCr = false;
  const endLine = (end: number) => {
    planner.record(lineStart, end, line++, false);
    lineStart = end;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    if (offset === 0) {
      const bom = chunk.subarray(0, 3).equals(BOM) ? 3 : 0;
      // The planner takes its first record for a header: here the BOM, or nothing.
      planner.record(0, bom, 0, false);
      lineStart = bom;
    }
    const joined = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const tail = incompleteTail(joined);
    const text = joined.subarray(0, joined.length - tail);
    if (!isUtf8(text)) planner.invalid(invalidUtf8Offsets(text, offset - carry.length));
    carry = Buffer.from(joined.subarray(joined.length - tail));
    let i = 0;
    if (pendingCr) {
      pendingCr = false;
      i = chunk[0] === 0x0a ? 1 : 0;
      endLine(offset + i);
    }
    if (chunk.indexOf(0x0d, i) === -1) {
      for (let at = chunk.indexOf(0x0a, i); at !== -1; at = chunk.indexOf(0x0a, at + 1))
        endLine(offset + at + 1);
    } else {
      // Line ends as editors count them (LF, CRLF, a CR alone), as the CSV check does: the chunk
      // files are rewritten with LF ends, which is what DuckDB reads.
      cr = true;
      for (; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 0x0a) endLine(offset + i + 1);
        else if (b === 0x0d) {
          if (i + 1 === chunk.length) pendingCr = true;
          else if (chunk[i + 1] === 0x0a) endLine(offset + ++i + 1);
          else endLine(offset + i + 1);
        }
      }
    }
    offset += chunk.length;
  }
  if (carry.length > 0) planner.invalid([offset - carry.length]);
  if (pendingCr) endLine(offset);
  if (lineStart < offset) planner.record(lineStart, offset, line, false);
  const planned = planner.finish(bytes);
  return {
    format: 'ndjson',
    sha256: hash.digest('hex'),
    bytes,
    layout: { header: NDJSON_HEADER, positions: Object.fromEntries(SALE_COLUMNS.map((c, i) => [c, i])) },
    headerBytes: Buffer.alloc(0),
    normalize: cr,
    ...planned,
  };
}
