import { describe, expect, it } from 'vitest';
import { RecordScanner, type RecordSink, UnclosedQuoteError } from '../src/sales-sync/csv-records.js';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

type Endings = { lf: number; crlf: number; cr: number };
type Found = {
  records: [number, number, number][];
  unclosed: number | null;
  endings?: Endings;
  /** Starts of the records with text after a closing quote. */
  badQuotes?: number[];
};

/**
 * The oracle: the same quote and line-end rules written the plain way, one byte at a time over the whole file
 * from `start` (the scanner jumps between newlines and quotes, buffer by buffer).
 */
function referenceRecords(bytes: Uint8Array, start: number): Found {
  const records: [number, number, number][] = [];
  let inQuotes = false;
  let afterQuote = false;
  let fieldStart = true;
  let recordStart = start;
  let recordLine = 1;
  let line = 1;
  let quoteLine = 0;
  const endings = { lf: 0, crlf: 0, cr: 0 };
  const badQuotes: number[] = [];
  let bad = false;
  const finish = (end: number, newline: number) => {
    if (newline === 1) {
      if (bytes[end - 1] === CR) endings.cr++;
      else if (bytes[end - 2] === CR && end - 2 >= start) endings.crlf++;
      else endings.lf++;
    }
    const content = end - recordStart - newline;
    if (content > 1 || (content === 1 && bytes[end - newline - 1] !== CR)) {
      records.push([recordStart, end, recordLine]);
      if (bad) badQuotes.push(recordStart);
    }
    bad = false;
    recordStart = end;
    recordLine = line;
    fieldStart = true;
    afterQuote = false;
  };
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i];
    // A CR alone is a line end too (universal newlines); in a CRLF the LF ends the line.
    const loneCr = b === CR && bytes[i + 1] !== LF;
    if (inQuotes) {
      if (b === QUOTE) [inQuotes, afterQuote] = [false, true];
      else if (b === LF || loneCr) line++;
    } else if (b === LF || loneCr) {
      line++;
      finish(i + 1, 1);
    } else if (b === QUOTE && (afterQuote || fieldStart)) {
      if (!afterQuote) quoteLine = line;
      [inQuotes, afterQuote, fieldStart] = [true, false, false];
    } else {
      if (afterQuote && b !== COMMA && b !== CR) bad = true;
      afterQuote = false;
      fieldStart = b === COMMA;
    }
  }
  if (inQuotes) return { records, unclosed: quoteLine };
  finish(bytes.length, 0);
  return { records, unclosed: null, endings, badQuotes };
}

/** Feeds `bytes` to a scanner in pieces of the given sizes; what it found. */
function scan(bytes: Buffer, start: number, pieces: number[]): Found {
  const records: [number, number, number][] = [];
  const badQuotes: number[] = [];
  const sink: RecordSink = {
    record: (from, end, line, bad) => {
      records.push([from, end, line]);
      if (bad) badQuotes.push(from);
    },
  };
  const scanner = new RecordScanner(sink, start, 1);
  let at = start;
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
  return { records, unclosed: null, endings: { ...scanner.endings }, badQuotes };
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
  it('finds the same records, lines and unclosed quotes as the rules read one byte at a time, however the file is cut into buffers', () => {
    let compared = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const next = random(seed);
      const bytes = randomCsv(next, 1 + Math.floor(next() * 300));
      const pieces = randomPieces(next, bytes.length, 1 + Math.floor(next() * 40));
      const start = Math.floor(next() * 3);
      const expected = referenceRecords(bytes, start);
      const found = scan(bytes, start, pieces);
      expect(found, `seed ${seed}`).toEqual(expected);
      compared += expected.records.length;
    }
    expect(compared).toBeGreaterThan(10_000);
  });

  it('takes a CR alone as a line end, mixed with LF and CRLF, and counts each kind', () => {
    const bytes = Buffer.from('h\r\na\nb\rc\r\r\n"x\ry",d\r');
    const whole = scan(bytes, 0, [bytes.length]);
    expect(whole).toEqual(referenceRecords(bytes, 0));
    expect(whole).toEqual({
      records: [
        [0, 3, 1],
        [3, 5, 2],
        [5, 7, 3],
        [7, 9, 4], // then a blank line 5 (CRLF)
        [11, 19, 6], // a CR inside quotes: lines 6 and 7
      ],
      unclosed: null,
      endings: { lf: 1, crlf: 2, cr: 3 },
      badQuotes: [],
    });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(scan(bytes, 0, [cut]), `cut at ${cut}`).toEqual(whole);
    }
  });

  it('flags a record with text after a closing quote, whatever buffer the quote ends', () => {
    const bytes = Buffer.from('"a"b,c\n"ok",d\r\n"x" ,y\n"q"""\n');
    const whole = scan(bytes, 0, [bytes.length]);
    expect(whole).toEqual(referenceRecords(bytes, 0));
    expect(whole.badQuotes).toEqual([0, 15]);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(scan(bytes, 0, [cut]), `cut at ${cut}`).toEqual(whole);
    }
  });

  it('keeps an escaped quote, a closing quote and a CRLF that a buffer boundary splits', () => {
    const bytes = Buffer.from('a,"x""y",b\r\n"multi\nline",c\n\n"q""",d\n');
    const whole = scan(bytes, 0, [bytes.length]);
    expect(whole).toEqual(referenceRecords(bytes, 0));
    expect(whole).toEqual({
      records: [
        [0, 12, 1],
        [12, 27, 2], // a quoted newline: lines 2 and 3
        [28, 36, 5], // after the blank line 4
      ],
      unclosed: null,
      endings: { lf: 3, crlf: 1, cr: 0 },
      badQuotes: [],
    });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(scan(bytes, 0, [cut]), `cut at ${cut}`).toEqual(whole);
    }
  });
});
