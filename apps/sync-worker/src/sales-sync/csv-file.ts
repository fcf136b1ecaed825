import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { CsvLayout } from '@datasync/db';
import { SALE_CSV_OPTIONAL_COLUMNS, SALE_CSV_REQUIRED_COLUMNS, type SaleCsvColumn } from '@datasync/schemas';
import { RecordScanner, type RecordSink, UnclosedQuoteError } from './csv-records.js';
import { incompleteTail, invalidUtf8Offsets } from './csv-text.js';

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
  /** Records DuckDB reads (the set-aside ones not counted). */
  records: number;
  breaks: { record: number; line: number }[];
  /** Records of [start, end) kept out of the chunk file, quarantined by the worker itself. */
  setAside: SetAsideRecord[];
}

/**
 * A record DuckDB is not given: some of its bytes are not UTF-8 (DuckDB would refuse the whole
 * file), it is longer than MAX_RECORD_BYTES (DuckDB loses a record longer than its buffer), or a
 * closing quote is followed by text (DuckDB drops the rest of the file, or splits the record).
 */
export interface SetAsideRecord {
  start: number;
  end: number;
  line: number;
  reason: 'not-utf8' | 'too-long' | 'bad-quote';
}

/** A record longer than this is quarantined unread: no sale comes near it. */
export const MAX_RECORD_BYTES = 1 << 20;
/** More set-aside records than this: the file is refused (and their list kept bounded). */
export const MAX_SET_ASIDE = 10_000;

export interface CsvFileInfo {
  /** What reads the chunks (sales-file.ts): CSV unless said otherwise. */
  format?: 'parquet' | 'ndjson';
  /** Parquet: the columns read, in layout.header's order. */
  columns?: string[];
  sha256: string;
  bytes: number;
  layout: CsvLayout;
  /** The header record as written (BOM removed), ending with a newline: each chunk file's first line. */
  headerBytes: Buffer;
  /** Records of the file (the header and blank lines not counted), the set-aside ones included. */
  records: number;
  chunks: ChunkPlan[];
  /**
   * Line ends are mixed (LF and CRLF) or include a CR alone: DuckDB reads one kind per file, so the
   * chunk files are written with LF ends (csv-chunk-files.ts). Otherwise the bytes are copied as they are.
   */
  normalize: boolean;
  setAside: { notUtf8: number; tooLong: number; badQuote: number };
}

const READ_CHUNK = 1 << 20;
const HEADER_MAX = 1 << 20;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const KNOWN_COLUMNS: readonly SaleCsvColumn[] = [...SALE_CSV_OPTIONAL_COLUMNS, ...SALE_CSV_REQUIRED_COLUMNS];
const EXPECTED = KNOWN_COLUMNS.map((c) => (c === 'id' ? 'id (optional)' : c)).join(', ');

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
  let headerBytes: Buffer | null = null;
  let header: Pick<CsvFileInfo, 'layout'> | null = null;
  let carry = Buffer.alloc(0);
  let offset = 0;
  const takeHeader = () => {
    const at = planner.header!;
    const bytes = Buffer.concat(head!);
    if (at.invalidAt !== -1) throw new InvalidCsvFileError(notUtf8Message(at.invalidAt, bytes));
    headerBytes = Buffer.from(bytes.subarray(at.start, at.end));
    header = readHeader(headerBytes);
    head = null;
  };
  try {
    for await (const buf of createReadStream(path, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
      hash.update(buf);
      if (offset === 0 && (buf[0] === 0xff || buf[0] === 0xfe) && (buf[1] === 0xfe || buf[1] === 0xff))
        throw new InvalidCsvFileError('the file is UTF-16 text: save it as CSV UTF-8');
      const joined = carry.length > 0 ? Buffer.concat([carry, buf]) : buf;
      const tail = incompleteTail(joined);
      const text = joined.subarray(0, joined.length - tail);
      // Records holding bytes that are not UTF-8 are set aside (the header's refuse the file).
      if (!isUtf8(text)) planner.invalid(invalidUtf8Offsets(text, offset - carry.length));
      carry = Buffer.from(joined.subarray(joined.length - tail));
      const bom = offset === 0 && buf.subarray(0, 3).equals(BOM) ? 3 : 0;
      scanner ??= new RecordScanner(planner, bom, 1);
      head?.push(buf);
      scanner.push(bom ? buf.subarray(bom) : buf);
      offset += buf.length;
      if (head && planner.header) takeHeader();
      else if (head && offset > HEADER_MAX)
        throw new InvalidCsvFileError('the header row is longer than 1 MB');
    }
    // A character cut short by the end of the file: its bytes are not UTF-8.
    if (carry.length > 0) planner.invalid([offset - carry.length]);
    scanner?.end();
  } catch (error) {
    if (error instanceof UnclosedQuoteError) throw new InvalidCsvFileError(`not valid CSV: ${error.message}`);
    throw error;
  }
  if (head && planner.header) takeHeader();
  if (!header || !headerBytes) throw new InvalidCsvFileError('the file has no header row');
  const endings = scanner!.endings;
  const normalize = endings.cr > 0 || (endings.lf > 0 && endings.crlf > 0);
  return {
    sha256: hash.digest('hex'),
    bytes: stat.size,
    ...(header as Pick<CsvFileInfo, 'layout'>),
    headerBytes: headerLine(headerBytes, normalize),
    normalize,
    ...planner.finish(stat.size),
  };
}

/** The header as each chunk file's first line: with a LF end when the chunks are rewritten so. */
function headerLine(bytes: Buffer, normalize: boolean): Buffer {
  let end = bytes.length;
  if (normalize) {
    if (bytes[end - 1] === 0x0a) end--;
    if (bytes[end - 1] === 0x0d) end--;
  } else if (bytes[end - 1] === 0x0a) return bytes;
  return Buffer.concat([bytes.subarray(0, end), Buffer.from('\n')]);
}

/**
 * Takes the records from the scanner: the first is the header, the others go into chunks. Records
 * holding bytes that are not UTF-8 (their offsets come before the scanner reaches them) or longer
 * than MAX_RECORD_BYTES are set aside: the chunk file leaves them out and the worker quarantines them.
 */
export class ChunkPlanner implements RecordSink {
  header: { start: number; end: number; invalidAt: number } | null = null;
  private readonly chunks: ChunkPlan[] = [];
  private current: ChunkPlan | null = null;
  private nextStart = 0;
  private expectedLine = 0;
  private records = 0;
  private readonly setAside = { notUtf8: 0, tooLong: 0, badQuote: 0 };
  /** Offsets of bytes that are not UTF-8 (ascending); those from `reached` on are after the last record. */
  private pending: number[] = [];
  private reached = 0;

  constructor(private readonly limits: ChunkLimits) {}

  invalid(offsets: number[]): void {
    this.pending = this.pending.slice(this.reached).concat(offsets);
    this.reached = 0;
  }

  /** The first offset of a byte that is not UTF-8 before `end` (-1 if none). */
  private invalidBefore(end: number): number {
    const first = this.pending[this.reached];
    if (first === undefined || first >= end) return -1;
    while (this.reached < this.pending.length && this.pending[this.reached]! < end) this.reached++;
    return first;
  }

  record(start: number, end: number, line: number, badQuote: boolean): void {
    const invalidAt = this.invalidBefore(end);
    if (!this.header) {
      this.header = { start, end, invalidAt };
      this.nextStart = end;
      return;
    }
    this.records++;
    this.current ??= {
      index: this.chunks.length,
      start: this.nextStart,
      end,
      records: 0,
      breaks: [],
      setAside: [],
    };
    const chunk = this.current;
    const reason =
      end - start > MAX_RECORD_BYTES
        ? 'too-long'
        : invalidAt !== -1
          ? 'not-utf8'
          : badQuote
            ? 'bad-quote'
            : null;
    if (reason) {
      this.setAside[reason === 'not-utf8' ? 'notUtf8' : reason === 'too-long' ? 'tooLong' : 'badQuote']++;
      const { notUtf8, tooLong, badQuote: quotes } = this.setAside;
      if (notUtf8 + tooLong + quotes > MAX_SET_ASIDE) throw tooManySetAside(this.setAside);
      chunk.setAside.push({ start, end, line, reason });
    } else {
      if (chunk.records === 0 || line !== this.expectedLine)
        chunk.breaks.push({ record: chunk.records, line });
      chunk.records++;
      this.expectedLine = line + 1;
    }
    chunk.end = end;
    if (chunk.records + chunk.setAside.length >= this.limits.rows || end - chunk.start >= this.limits.bytes) {
      this.chunks.push(chunk);
      this.current = null;
      this.nextStart = end;
    }
  }

  /** The last chunk runs to the end of the file (a file without records has one empty chunk). */
  finish(size: number): Pick<CsvFileInfo, 'records' | 'chunks' | 'setAside'> {
    const last = this.current ??
      this.chunks.pop() ?? {
        index: 0,
        start: this.nextStart,
        end: size,
        records: 0,
        breaks: [],
        setAside: [],
      };
    last.end = size;
    return { records: this.records, chunks: [...this.chunks, last], setAside: this.setAside };
  }
}

function tooManySetAside(counts: CsvFileInfo['setAside']): InvalidCsvFileError {
  const most = Math.max(counts.notUtf8, counts.tooLong, counts.badQuote);
  const what =
    most === counts.notUtf8
      ? 'hold bytes that are not UTF-8: the file is in another encoding (Windows-1252, Latin-1?); save it as CSV UTF-8'
      : most === counts.tooLong
        ? `are longer than ${MAX_RECORD_BYTES >> 20} MB: this is not a sales CSV`
        : 'have a quoted field followed by other characters: the file does not quote fields the CSV way';
  return new InvalidCsvFileError(`more than ${MAX_SET_ASIDE.toLocaleString('en')} records ${what}`);
}

/** The header row holds a byte that is not UTF-8 (at `at`; `head` holds the file's first bytes). */
function notUtf8Message(at: number, head: Buffer): string {
  const binary = head.subarray(0, 512).includes(0);
  return `the file is not UTF-8 text (invalid byte at offset ${at}, in the header row)${
    binary
      ? ': it looks like a binary file (a spreadsheet?); export it as CSV UTF-8'
      : ': save it as CSV UTF-8'
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

function readHeader(bytes: Buffer): Pick<CsvFileInfo, 'layout'> {
  const text = bytes.toString('utf8');
  if (text.includes('\0')) {
    throw new InvalidCsvFileError(
      'the header row holds NUL bytes: the file looks like UTF-16 or binary; save it as CSV UTF-8',
    );
  }
  const cells = headerCells(text.replace(/\r?\n$|\r$/, ''));
  const names = cells.map((c) => c.toLowerCase());
  const missing = SALE_CSV_REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  const other = cells.length === 1 ? [';', '\t', '|'].find((d) => text.includes(d)) : undefined;
  if (missing.length > 0 && other) {
    throw new InvalidCsvFileError(
      `the header row is separated by ${other === '\t' ? 'tabs' : `'${other}'`}: a sales CSV separates its fields with commas`,
    );
  }
  if (missing.length > 0) {
    throw new InvalidCsvFileError(
      `the header row lacks ${missing.join(', ')}: a sales CSV starts with a header row naming the columns ${EXPECTED} (any order)`,
    );
  }
  const repeated = KNOWN_COLUMNS.filter((c) => names.indexOf(c) !== names.lastIndexOf(c));
  if (repeated.length > 0) throw new InvalidCsvFileError(`the header row repeats ${repeated.join(', ')}`);
  const positions: Partial<Record<SaleCsvColumn, number>> = {};
  for (const c of KNOWN_COLUMNS) if (names.includes(c)) positions[c] = names.indexOf(c);
  return { layout: { header: cells, positions } };
}
