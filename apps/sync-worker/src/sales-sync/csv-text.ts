/**
 * Byte-level helpers of the CSV file check: where UTF-8 goes wrong, and the cells of one record
 * (for a record set aside because some of its bytes are not UTF-8, to name the field).
 */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const QUOTE_BYTE = Buffer.from('"');

/** Bytes at the end of `buf` that begin a UTF-8 character the next buffer completes. */
export function incompleteTail(buf: Uint8Array): number {
  for (let i = 1; i <= Math.min(3, buf.length); i++) {
    const b = buf[buf.length - i]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > i ? i : 0;
  }
  return 0;
}

const cont = (b: number | undefined, lo = 0x80, hi = 0xbf) => b !== undefined && b >= lo && b <= hi;

/**
 * Offsets (from `base`) of the bytes where a UTF-8 decoder gives up, as the WHATWG decoder does:
 * each is replaced by U+FFFD and decoding goes on at the next byte. Only called on buffers that
 * `isUtf8` refused, so the byte loop runs on bad files only.
 */
export function invalidUtf8Offsets(bytes: Uint8Array, base: number): number[] {
  const found: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let len = 0;
    if (b >= 0xc2 && b <= 0xdf) len = cont(bytes[i + 1]) ? 2 : 0;
    else if (b >= 0xe0 && b <= 0xef) {
      const lo = b === 0xe0 ? 0xa0 : 0x80;
      const hi = b === 0xed ? 0x9f : 0xbf;
      len = cont(bytes[i + 1], lo, hi) && cont(bytes[i + 2]) ? 3 : 0;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const lo = b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xf4 ? 0x8f : 0xbf;
      len = cont(bytes[i + 1], lo, hi) && cont(bytes[i + 2]) && cont(bytes[i + 3]) ? 4 : 0;
    }
    if (len === 0) {
      found.push(base + i);
      i++;
    } else i += len;
  }
  return found;
}

/** The cells of one CSV record (its bytes, line end included), split with the reader's quote rules. */
export function recordCells(record: Uint8Array): Buffer[] {
  const bytes = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  let end = bytes.length;
  if (bytes[end - 1] === LF) end--;
  if (bytes[end - 1] === CR) end--;
  const cells: Buffer[] = [];
  let parts: Buffer[] = [];
  let from = 0;
  let quoted = false;
  let fieldStart = true;
  for (let i = 0; i < end; i++) {
    const c = bytes[i]!;
    if (quoted) {
      if (c !== QUOTE) continue;
      // Up to here is text of the field; `""` is one quote, a single one closes the field.
      parts.push(bytes.subarray(from, i));
      if (bytes[i + 1] === QUOTE) {
        parts.push(QUOTE_BYTE);
        i++;
      } else quoted = false;
      from = i + 1;
    } else if (c === QUOTE && fieldStart) {
      quoted = true;
      fieldStart = false;
      from = i + 1;
    } else if (c === COMMA) {
      parts.push(bytes.subarray(from, i));
      cells.push(Buffer.concat(parts));
      parts = [];
      from = i + 1;
      fieldStart = true;
    } else fieldStart = false;
  }
  parts.push(bytes.subarray(from, end));
  cells.push(Buffer.concat(parts));
  return cells;
}
