import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { CsvLayout } from '@datasync/db';
import { SALE_CSV_OPTIONAL_COLUMNS, SALE_CSV_REQUIRED_COLUMNS, type SaleCsvColumn } from '@datasync/schemas';
import { RecordScanner, type RecordSink, UnclosedQuoteError } from './csv-records.js';

/** The file cannot be imported at all: nothing of it is stored, and retrying will not help. */
export class InvalidCsvFileError extends Error {
  override readonly name = 'InvalidCsvFileError';
}

export interface ChunkLimits {
  rows: number;
  bytes: number;
}

/**
 * A chunk of the file, committed in a transaction of its own: the bytes [start, end) holding
 * `records` records. The line of record r (0-based in the chunk) is `line + (r - record)` for the
 * last break with `record <= r`: one break at the start, and one after each blank line or
 * multi-line record.
 */
export interface ChunkPlan {
  index: number;
  start: number;
  end: number;
  records: number;
  breaks: { record: number; line: number }[];
}

export interface CsvFileInfo {
  sha256: string;
  bytes: number;
  layout: CsvLayout;
  /** The header record as written (BOM removed), ending with a newline: each chunk file's first line. */
  headerBytes: Buffer;
  records: number;
  chunks: ChunkPlan[];
}

const READ_CHUNK = 1 << 20;
const HEADER_MAX = 1 << 20;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const KNOWN_COLUMNS: readonly SaleCsvColumn[] = [...SALE_CSV_OPTIONAL_COLUMNS, ...SALE_CSV_REQUIRED_COLUMNS];
const EXPECTED = KNOWN_COLUMNS.map((c) => (c === 'id' ? 'id (optional)' : c)).join(', ');

/** Bytes at the end of `buf` that begin a UTF-8 character the next buffer completes. */
function incompleteTail(buf: Buffer): number {
  for (let i = 1; i <= Math.min(3, buf.length); i++) {
    const b = buf[buf.length - i]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > i ? i : 0;
  }
  return 0;
}

/**
 * Checks a sales CSV before anything of it is stored, streaming (any size): the sha256 of its bytes
 * (the dedup key); that it is UTF-8 (with or without a BOM); that its first record is a header with
 * every required column; that every quoted field is closed. On the way it finds where each record
 * starts and on which line (csv-records.ts) and plans the chunks. Throws InvalidCsvFileError.
 */
export async function inspectCsvFile(path: string, limits: ChunkLimits): Promise<CsvFileInfo> {
  const stat = await lstat(path).catch(() => null);
  if (!stat) throw new InvalidCsvFileError('the uploaded file is gone');
  if (!stat.isFile()) throw new InvalidCsvFileError('the import path is not a regular file');
  if (stat.size === 0) throw new InvalidCsvFileError('the file is empty: expected a header row');

  const hash = createHash('sha256');
  const planner = new ChunkPlanner(limits);
  let scanner: RecordScanner | null = null;
  let head: Buffer[] | null = [];
  let header: Omit<CsvFileInfo, 'sha256' | 'bytes' | 'records' | 'chunks'> | null = null;
  let carry = Buffer.alloc(0);
  let offset = 0;
  try {
    for await (const buf of createReadStream(path, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
      hash.update(buf);
      const joined = carry.length > 0 ? Buffer.concat([carry, buf]) : buf;
      const tail = incompleteTail(joined);
      if (!isUtf8(joined.subarray(0, joined.length - tail))) {
        throw new InvalidCsvFileError(notUtf8Message(offset - carry.length, joined));
      }
      carry = Buffer.from(joined.subarray(joined.length - tail));
      const bom = offset === 0 && buf.subarray(0, 3).equals(BOM) ? 3 : 0;
      scanner ??= new RecordScanner(planner, bom, 1);
      head?.push(buf);
      scanner.push(bom ? buf.subarray(bom) : buf);
      offset += buf.length;
      if (head && planner.header) {
        header = readHeader(Buffer.concat(head), planner.header);
        head = null;
      } else if (head && offset > HEADER_MAX)
        throw new InvalidCsvFileError('the header row is longer than 1 MB');
    }
    if (carry.length > 0)
      throw new InvalidCsvFileError('the file is not UTF-8 text: it ends inside a character');
    scanner?.end();
  } catch (error) {
    if (error instanceof UnclosedQuoteError) throw new InvalidCsvFileError(`not valid CSV: ${error.message}`);
    throw error;
  }
  if (head && planner.header) header = readHeader(Buffer.concat(head), planner.header);
  if (!header) throw new InvalidCsvFileError('the file has no header row');
  return { sha256: hash.digest('hex'), bytes: stat.size, ...header, ...planner.finish(stat.size) };
}

/** Takes the records from the scanner: the first is the header, the others go into chunks. */
class ChunkPlanner implements RecordSink {
  header: { start: number; end: number } | null = null;
  private readonly chunks: ChunkPlan[] = [];
  private current: ChunkPlan | null = null;
  private nextStart = 0;
  private expectedLine = 0;
  private records = 0;

  constructor(private readonly limits: ChunkLimits) {}

  record(start: number, end: number, line: number): void {
    if (!this.header) {
      this.header = { start, end };
      this.nextStart = end;
      return;
    }
    this.records++;
    this.current ??= { index: this.chunks.length, start: this.nextStart, end, records: 0, breaks: [] };
    const chunk = this.current;
    if (chunk.records === 0 || line !== this.expectedLine) chunk.breaks.push({ record: chunk.records, line });
    chunk.records++;
    chunk.end = end;
    this.expectedLine = line + 1;
    if (chunk.records >= this.limits.rows || end - chunk.start >= this.limits.bytes) {
      this.chunks.push(chunk);
      this.current = null;
      this.nextStart = end;
    }
  }

  /** The last chunk runs to the end of the file (a file without records has one empty chunk). */
  finish(size: number): { records: number; chunks: ChunkPlan[] } {
    const last = this.current ??
      this.chunks.pop() ?? { index: 0, start: this.nextStart, end: size, records: 0, breaks: [] };
    last.end = size;
    return { records: this.records, chunks: [...this.chunks, last] };
  }
}

function notUtf8Message(base: number, bytes: Buffer): string {
  if (base === 0 && (bytes[0] === 0xff || bytes[0] === 0xfe))
    return 'the file is UTF-16 text: save it as CSV UTF-8';
  // The first invalid byte: validity of a prefix (minus an unfinished last character) is monotone.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const prefix = bytes.subarray(0, mid);
    if (isUtf8(prefix.subarray(0, mid - incompleteTail(prefix)))) lo = mid;
    else hi = mid - 1;
  }
  const binary = base === 0 && bytes.subarray(0, 512).includes(0);
  return `the file is not UTF-8 text (invalid byte at offset ${base + lo})${
    binary ? ': it looks like a binary file (a spreadsheet?); export it as CSV UTF-8' : ''
  }`;
}

/** Splits one CSV record (the header) into trimmed cells. */
function headerCells(text: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell.trim() === '') quoted = true;
    else if (c === ',') {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

function readHeader(head: Buffer, at: { start: number; end: number }) {
  const bytes = Buffer.from(head.subarray(at.start, at.end));
  const text = bytes.toString('utf8');
  if (/\r(?!\n)/.test(text)) {
    throw new InvalidCsvFileError(
      'lines end with CR only (classic Mac): save the file with LF or CRLF line endings',
    );
  }
  const cells = headerCells(text.replace(/\r?\n$/, ''));
  const names = cells.map((c) => c.toLowerCase());
  const missing = SALE_CSV_REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new InvalidCsvFileError(
      `the header row lacks ${missing.join(', ')}: a sales CSV starts with a header row naming the columns ${EXPECTED} (any order)`,
    );
  }
  const repeated = KNOWN_COLUMNS.filter((c) => names.indexOf(c) !== names.lastIndexOf(c));
  if (repeated.length > 0) throw new InvalidCsvFileError(`the header row repeats ${repeated.join(', ')}`);
  const positions: Partial<Record<SaleCsvColumn, number>> = {};
  for (const c of KNOWN_COLUMNS) if (names.includes(c)) positions[c] = names.indexOf(c);
  const headerBytes = text.endsWith('\n') ? bytes : Buffer.concat([bytes, Buffer.from('\n')]);
  return { layout: { header: cells, positions }, headerBytes };
}
