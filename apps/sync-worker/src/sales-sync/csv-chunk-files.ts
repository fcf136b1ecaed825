import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ChunkPlan, CsvFileInfo } from './csv-file.js';
import { RecordScanner } from './csv-records.js';

const LF = 0x0a;
const CR = 0x0d;
const LF_BYTE = Buffer.from([LF]);

/**
 * Chunk files: the header row, then the bytes of one planned chunk of the original file, copied
 * as they are (DuckDB reads them with the same rules as the whole file). The plan depends only on
 * the file and the chunk limits, so a resume (with the limits the import started with) cuts the
 * file the same way and skips the chunks already committed.
 */

export function chunkFilePath(dir: string, chunk: ChunkPlan): string {
  return join(dir, `chunk-${String(chunk.index).padStart(6, '0')}.csv`);
}

export async function writeChunkFile(
  source: string,
  info: CsvFileInfo,
  chunk: ChunkPlan,
  dir: string,
): Promise<string> {
  const path = chunkFilePath(dir, chunk);
  const out = createWriteStream(path, { mode: 0o600 });
  out.write(info.headerBytes);
  if (chunk.end > chunk.start) {
    const input = createReadStream(source, {
      start: chunk.start,
      end: chunk.end - 1,
      highWaterMark: 1 << 20,
    });
    const asIs = !info.normalize && chunk.setAside.length === 0;
    await pipeline(asIs ? input : rewrite(input as AsyncIterable<Buffer>, chunk, info.normalize), out);
  } else {
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
  return path;
}

/**
 * The chunk's bytes without its set-aside records and, with `normalize`, with every line end
 * made a LF: a CRLF loses its CR, a CR alone becomes a LF (the scanner took it for a line end;
 * inside a quoted field it stays a line break of the field). Lengths change, lines do not.
 */
async function* rewrite(input: AsyncIterable<Buffer>, chunk: ChunkPlan, normalize: boolean) {
  let pos = chunk.start;
  let aside = 0;
  /** A CR ended the previous buffer: a LF starting this one makes it a CRLF. */
  let heldCr = false;
  for await (const buf of input) {
    const bufStart = pos;
    pos += buf.length;
    const out: Buffer[] = [];
    if (heldCr) {
      heldCr = false;
      if (buf[0] !== LF) out.push(LF_BYTE);
    }
    for (let from = bufStart; from < pos; ) {
      const next = chunk.setAside[aside];
      if (next && from >= next.start) {
        const to = Math.min(next.end, pos);
        if (to === next.end) aside++;
        from = to;
        continue;
      }
      const to = next ? Math.min(next.start, pos) : pos;
      const piece = buf.subarray(from - bufStart, to - bufStart);
      if (!normalize) out.push(piece);
      else {
        let at = 0;
        for (let cr = piece.indexOf(CR); cr !== -1; cr = piece.indexOf(CR, cr + 1)) {
          const p = from + cr - bufStart;
          if (p + 1 === buf.length && from + cr + 1 < chunk.end) {
            // The next byte is in the next buffer.
            out.push(piece.subarray(at, cr));
            at = cr + 1;
            heldCr = true;
          } else if (p + 1 < buf.length && buf[p + 1] === LF) {
            out.push(piece.subarray(at, cr));
            at = cr + 1;
          } else piece[cr] = LF;
        }
        out.push(piece.subarray(at));
      }
      from = to;
    }
    if (out.length > 0) yield Buffer.concat(out);
  }
  if (heldCr) yield LF_BYTE;
}

/** The line in the original file where record `r` of the chunk starts. */
export function lineOf(chunk: ChunkPlan, r: number): number {
  let at = chunk.breaks[0]!;
  for (const b of chunk.breaks) {
    if (b.record > r) break;
    at = b;
  }
  return at.line + (r - at.record);
}

/**
 * Where each record of a chunk file starts (offsets in the chunk file), and after the last one
 * where the file ends: only needed to place the few records DuckDB could not read (it names them
 * by byte position).
 */
export async function recordStarts(file: string, headerLength: number): Promise<number[]> {
  const starts: number[] = [];
  let end = headerLength;
  const scanner = new RecordScanner(
    {
      record: (start, stop) => {
        starts.push(start);
        end = stop;
      },
    },
    headerLength,
    1,
  );
  for await (const buf of createReadStream(file, {
    start: headerLength,
    highWaterMark: 1 << 20,
  }) as AsyncIterable<Buffer>) {
    scanner.push(buf);
  }
  scanner.end();
  starts.push(end);
  return starts;
}

/** The text of one record of a chunk file, for the quarantine (bounded, line ends removed). */
export async function readSpan(
  file: string,
  span: { start: number; end: number },
  max = 8192,
): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(span.end - span.start, max));
    const { bytesRead } = await handle.read(buf, 0, buf.length, span.start);
    return buf
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/[\r\n]+$/, '');
  } finally {
    await handle.close();
  }
}
