/**
 * Finds where each record of a CSV file starts and on which line, without parsing its fields:
 * one pass over the bytes with the quote rules DuckDB's reader applies (a quote opens a field only
 * at its start, `""` inside quotes is a quote, a newline inside quotes belongs to the field). That
 * gives every record its exact line number (blank lines and quoted multi-line fields counted) and
 * lets the file be cut at record boundaries into chunks DuckDB reads one transaction at a time.
 *
 * Buffers without a quote (and outside a quoted field) take a fast path that jumps from newline
 * to newline with `indexOf`; the others jump from newline or quote to the next one.
 */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

export interface RecordSink {
  /** A record spans [start, end) of the file (end is after its newline) and starts on `line`. */
  record(start: number, end: number, line: number): void;
}

export class UnclosedQuoteError extends Error {
  override readonly name = 'UnclosedQuoteError';
  constructor(readonly line: number) {
    super(`a quoted field that starts on line ${line} is never closed`);
  }
}

export class RecordScanner {
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

  /**
   * The same rules as a byte-by-byte state machine, jumping with `indexOf` (native) from one
   * newline or quote to the next: only those bytes, and the byte before a quote, decide anything.
   */
  private scanBytes(buf: Uint8Array, base: number): void {
    const len = buf.length;
    let i = 0;
    /** The next quote at or after i (len when there is none). */
    let quote = -1;
    while (i < len) {
      if (this.inQuotes) {
        const close = buf.indexOf(QUOTE, i);
        const end = close === -1 ? len : close;
        for (let lf = buf.indexOf(LF, i); lf !== -1 && lf < end; lf = buf.indexOf(LF, lf + 1)) this.line++;
        if (close === -1) return;
        this.inQuotes = false;
        this.afterQuote = true;
        i = close + 1;
        continue;
      }
      if (this.afterQuote) {
        this.afterQuote = false;
        if (buf[i] === QUOTE) {
          // `""` inside a quoted field: an escaped quote, the field goes on.
          this.inQuotes = true;
          this.fieldStart = false;
          i++;
          continue;
        }
      }
      if (quote < i) {
        quote = buf.indexOf(QUOTE, i);
        if (quote === -1) quote = len;
      }
      const lf = buf.indexOf(LF, i);
      if (lf !== -1 && lf < quote) {
        this.line++;
        this.finishRecord(base + lf + 1, 1, lf > 0 ? buf[lf - 1]! : this.previousByte);
        i = lf + 1;
        continue;
      }
      if (quote === len) {
        this.fieldStart = buf[len - 1] === COMMA;
        return;
      }
      // A quote opens a field only at its start; elsewhere it is a character of the field.
      if (quote === i ? this.fieldStart : buf[quote - 1] === COMMA) {
        this.quoteLine = this.line;
        this.inQuotes = true;
      }
      this.fieldStart = false;
      i = quote + 1;
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
