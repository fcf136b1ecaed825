import { describe, expect, it } from 'vitest';
import { RecordScanner, type RecordSink, UnclosedQuoteError } from '../src/sales-sync/csv-records.js';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

/** The scanner as it was: one byte at a time. The oracle for the jumping one. */
class ByteByByteScanner {
  private inQuotes = false;
  private afterQuote = false;
  private fieldStart = true;
  private recordStart: number;
  private recordLine: number;
  private line: number;
  private quoteLine = 0;
  /** The last byte of the previous buffer (-1 at the start). */
  private previousByte = -1;
  private position: number;

  /** `start`: offset of the first record; `line`: its line number. */
  constructor(
    private readonly sink: RecordSink,
    start: number,
    line: number,
  ) {
    this.recordStart = start;
    this.position = start;
    this.recordLine = line;
    this.line = line;
  }

  /** Scans the next bytes of the file (they follow the previous buffer). */
  push(buf: Uint8Array): void {
    if (buf.length === 0) return;
    const base = this.position;
    if (!this.inQuotes && buf.indexOf(QUOTE) === -1) this.scanUnquoted(buf, base);
    else this.scanBytes(buf, base);
    this.position = base + buf.length;
    this.previousByte = buf[buf.length - 1]!;
  }

  /** The end of the file: the last record may lack its newline. */
  end(): void {
    if (this.inQuotes) throw new UnclosedQuoteError(this.quoteLine);
    this.finishRecord(this.position, 0, this.previousByte);
  }

  private scanUnquoted(buf: Uint8Array, base: number): void {
    let from = 0;
    for (;;) {
      const at = buf.indexOf(LF, from);
      if (at === -1) break;
      this.line++;
      this.finishRecord(base + at + 1, 1, at > 0 ? buf[at - 1]! : this.previousByte);
      from = at + 1;
    }
    if (from < buf.length) this.fieldStart = buf[buf.length - 1] === COMMA;
    this.afterQuote = false;
  }

  private scanBytes(buf: Uint8Array, base: number): void {
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (this.inQuotes) {
        if (b === QUOTE) {
          this.inQuotes = false;
          this.afterQuote = true;
        } else if (b === LF) this.line++;
        continue;
      }
      if (b === LF) {
        this.line++;
        this.finishRecord(base + i + 1, 1, i > 0 ? buf[i - 1]! : this.previousByte);
        continue;
      }
      if (b === QUOTE && (this.afterQuote || this.fieldStart)) {
        // Opens a quoted field, or (right after a closing quote) is an escaped quote inside it.
        if (!this.afterQuote) this.quoteLine = this.line;
        this.inQuotes = true;
        this.afterQuote = false;
        this.fieldStart = false;
        continue;
      }
      this.afterQuote = false;
      this.fieldStart = b === COMMA;
    }
  }

  /**
   * Ends the record running up to `end` (after its newline of `newline` bytes, or the end of the
   * file); `lastContentByte` is the byte before that newline.
   */
  private finishRecord(end: number, newline: number, lastContentByte: number): void {
    const content = end - this.recordStart - newline;
    // What DuckDB skips as a blank line: nothing, or only a CR, before the newline.
    const blank = content === 0 || (content === 1 && lastContentByte === CR);
    if (!blank) this.sink.record(this.recordStart, end, this.recordLine);
    this.recordStart = end;
    this.recordLine = this.line;
    this.fieldStart = true;
    this.afterQuote = false;
  }
}

type Scanner = { push(buf: Uint8Array): void; end(): void };
type Found = { records: [number, number, number][]; unclosed: number | null };

/** Feeds `bytes` to a scanner in pieces of the given sizes; what it found. */
function scan(make: (sink: RecordSink) => Scanner, bytes: Buffer, pieces: number[]): Found {
  const records: [number, number, number][] = [];
  const scanner = make({ record: (start, end, line) => records.push([start, end, line]) });
  let at = 0;
  for (const size of pieces) {
    scanner.push(bytes.subarray(at, at + size));
    at += size;
  }
  scanner.push(bytes.subarray(at));
  try {
    scanner.end();
  } catch (error) {
    if (error instanceof UnclosedQuoteError) return { records, unclosed: error.line };
    throw error;
  }
  return { records, unclosed: null };
}

/** mulberry32: a small seeded generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', ',', ',', '"', '"', '""', '\n', '\n', '\r\n', '\r', ' ', 'é', '"a,b"', '\n\n'];

function randomCsv(next: () => number, length: number): Buffer {
  let text = '';
  while (text.length < length) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return Buffer.from(text);
}

function randomPieces(next: () => number, total: number, max: number): number[] {
  const pieces: number[] = [];
  for (let left = total; left > 0; ) {
    const size = Math.min(left, 1 + Math.floor(next() * max));
    pieces.push(size);
    left -= size;
  }
  return pieces;
}

describe('the record scanner', () => {
  it('finds the same records, lines and unclosed quotes as the byte-by-byte scanner, however the file is cut into buffers', () => {
    let compared = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const next = random(seed);
      const bytes = randomCsv(next, 1 + Math.floor(next() * 300));
      const pieces = randomPieces(next, bytes.length, 1 + Math.floor(next() * 40));
      const start = Math.floor(next() * 3);
      const expected = scan((sink) => new ByteByByteScanner(sink, start, 1), bytes.subarray(start), [
        bytes.length,
      ]);
      const found = scan((sink) => new RecordScanner(sink, start, 1), bytes.subarray(start), pieces);
      expect(found, `seed ${seed}`).toEqual(expected);
      compared += expected.records.length;
    }
    expect(compared).toBeGreaterThan(10_000);
  });

  it('keeps an escaped quote, a closing quote and a CRLF that a buffer boundary splits', () => {
    const bytes = Buffer.from('a,"x""y",b\r\n"multi\nline",c\n\n"q""",d\n');
    const whole = scan((sink) => new RecordScanner(sink, 0, 1), bytes, [bytes.length]);
    expect(whole).toEqual({
      records: [
        [0, 12, 1],
        [12, 27, 2], // a quoted newline: lines 2 and 3
        [28, 36, 5], // after the blank line 4
      ],
      unclosed: null,
    });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(
        scan((sink) => new RecordScanner(sink, 0, 1), bytes, [cut]),
        `cut at ${cut}`,
      ).toEqual(whole);
    }
  });
});
