/**
 * Finds where each record of a CSV file starts and on which line, without parsing its fields:
 * one pass over the bytes with the quote rules DuckDB's reader applies (a quote opens a field only
 * at its start, `""` inside quotes is a quote, a newline inside quotes belongs to the field). That
 * gives every record its exact line number (blank lines and quoted multi-line fields counted) and
 * lets the file be cut at record boundaries into chunks DuckDB reads one transaction at a time.
 *
 * Line ends are LF, CRLF or a CR alone, mixed in any way (universal newlines, as editors count
 * lines). DuckDB reads only one kind per file, so the scanner counts each kind (`endings`) and a
 * file that mixes them, or has a CR alone, is rewritten with LF ends chunk by chunk (csv-chunk-files.ts).
 *
 * Buffers without a quote (and outside a quoted field) take a fast path that jumps from newline
 * to newline with `indexOf`; the others jump from newline or quote to the next one. A buffer with
 * a CR alone (rare) is read one byte at a time.
 */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const HELD_CR = Buffer.from([CR]);

/** Whether a CR of `buf` is not followed by a LF (the buffer's last byte is never a CR here). */
function hasLoneCr(buf: Uint8Array): boolean {
  for (let at = buf.indexOf(CR); at !== -1; at = buf.indexOf(CR, at + 2)) {
    if (buf[at + 1] !== LF) return true;
  }
  return false;
}

export interface RecordSink {
  /**
   * A record spans [start, end) of the file (end is after its newline) and starts on `line`.
   * `badQuote`: a closing quote is followed by something other than a comma, a line end or a
   * quote (`"a"b`, `"a" ,`): DuckDB reads such a record unreliably (without its rejects table it
   * drops the rest of the file), so it is never given one.
   */
  record(start: number, end: number, line: number, badQuote: boolean): void;
}

export class UnclosedQuoteError extends Error {
  override readonly name = 'UnclosedQuoteError';
  constructor(readonly line: number) {
    super(`a quoted field that starts on line ${line} is never closed`);
  }
}

/** How many line ends of each kind (outside quoted fields, blank lines included) the file has. */
export interface LineEndings {
  lf: number;
  crlf: number;
  cr: number;
}

export class RecordScanner {
  readonly endings: LineEndings = { lf: 0, crlf: 0, cr: 0 };
  private inQuotes = false;
  private afterQuote = false;
  private badQuote = false;
  private fieldStart = true;
  private recordStart: number;
  private recordLine: number;
  private line: number;
  private quoteLine = 0;
  /** The last byte of the previous buffer (-1 at the start). */
  private previousByte = -1;
  private position: number;
  /** A CR that ended the previous buffer: whether it is a CRLF depends on the next byte. */
  private heldCr = false;

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
  push(input: Uint8Array): void {
    let buf = input;
    if (this.heldCr) {
      this.heldCr = false;
      buf = Buffer.concat([HELD_CR, buf]);
    }
    if (buf.length === 0) return;
    if (buf[buf.length - 1] === CR) {
      // Every CR of a scanned buffer has its next byte in the same buffer.
      this.heldCr = true;
      buf = buf.subarray(0, buf.length - 1);
      if (buf.length === 0) return;
    }
    this.scan(buf);
  }

  /** The end of the file: the last record may lack its newline. */
  end(): void {
    if (this.heldCr) {
      this.heldCr = false;
      this.scanGeneral(HELD_CR, this.position);
      this.position += 1;
      this.previousByte = CR;
    }
    if (this.inQuotes) throw new UnclosedQuoteError(this.quoteLine);
    this.finishRecord(this.position, 0, this.previousByte);
  }

  private scan(buf: Uint8Array): void {
    const base = this.position;
    if (hasLoneCr(buf)) this.scanGeneral(buf, base);
    else if (!this.inQuotes && buf.indexOf(QUOTE) === -1) this.scanUnquoted(buf, base);
    else this.scanBytes(buf, base);
    this.position = base + buf.length;
    this.previousByte = buf[buf.length - 1]!;
  }

  /**
   * The rules one byte at a time, a CR alone being a line end (inside quotes, a line of the field).
   * Only for buffers with a CR alone; a CR at the last byte is one alone (the end of the file).
   */
  private scanGeneral(buf: Uint8Array, base: number): void {
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]!;
      const loneCr = c === CR && buf[i + 1] !== LF;
      if (this.inQuotes) {
        if (c === QUOTE) {
          this.inQuotes = false;
          this.afterQuote = true;
        } else if (c === LF || loneCr) this.line++;
        continue;
      }
      if (this.afterQuote) {
        this.afterQuote = false;
        if (c === QUOTE) {
          this.inQuotes = true;
          this.fieldStart = false;
          continue;
        }
        this.checkAfterQuote(c);
      }
      if (c === LF || loneCr) {
        this.line++;
        const before = i > 0 ? buf[i - 1]! : this.previousByte;
        this.finishRecord(base + i + 1, 1, before, loneCr);
      } else if (c === QUOTE && this.fieldStart) {
        this.quoteLine = this.line;
        this.inQuotes = true;
        this.fieldStart = false;
      } else this.fieldStart = c === COMMA;
    }
  }

  private scanUnquoted(buf: Uint8Array, base: number): void {
    if (this.afterQuote) this.checkAfterQuote(buf[0]!);
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
        this.checkAfterQuote(buf[i]!);
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

  /** The byte after a closing quote (not a quote): a comma or a line end, else the record is bad. */
  private checkAfterQuote(c: number): void {
    if (c !== COMMA && c !== LF && c !== CR) this.badQuote = true;
  }

  /**
   * Ends the record running up to `end` (after its newline of `newline` bytes, or the end of the
   * file); `lastContentByte` is the byte before that newline.
   */
  private finishRecord(end: number, newline: number, lastContentByte: number, loneCr = false): void {
    if (newline === 1) {
      if (loneCr) this.endings.cr++;
      else if (lastContentByte === CR) this.endings.crlf++;
      else this.endings.lf++;
    }
    const content = end - this.recordStart - newline;
    // What DuckDB skips as a blank line: nothing, or only a CR, before the newline.
    const blank = content === 0 || (content === 1 && lastContentByte === CR);
    if (!blank) this.sink.record(this.recordStart, end, this.recordLine, this.badQuote);
    this.badQuote = false;
    this.recordStart = end;
    this.recordLine = this.line;
    this.fieldStart = true;
    this.afterQuote = false;
  }
}
