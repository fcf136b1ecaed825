import { rm } from 'node:fs/promises';
import {
  type ChunkPlacement,
  type ChunkRead,
  CsvCountMismatchError,
  type CsvImportRecord,
  type DatabaseWriter,
  type MalformedRecord,
  ndjsonCells,
  parquetCells,
  readCsvChunk,
  recordCsvChunk,
  storeCsvChunk,
} from '@datasync/db';
import { CSV_SOURCE } from '@datasync/schemas';
import type { Logger } from 'pino';
import { lineOf, readSpan, recordStarts } from './csv-chunk-files.js';
import { type ChunkPlan, type CsvFileInfo, InvalidCsvFileError } from './csv-file.js';
import { readSetAside } from './csv-set-aside.js';

export interface ChunkContext {
  writer: DatabaseWriter;
  logger: Logger;
  importId: string;
  info: CsvFileInfo;
  /** latestSaleDate() when the import began: one rule for every chunk. */
  latest: string;
  /** Line-number doubts are added here for the job result. */
  warnings: string[];
  /** The uploaded file: the set-aside records are read from it. */
  source: string;
  /** Rows whose every cell is empty, summed over the chunks (for a warning). */
  empty: { count: number };
}

/** A chunk file ready to commit. */
export interface PreparedChunk {
  path: string;
  /** The file is a copy, removed once committed (not the uploaded file itself). */
  copy: boolean;
}

/**
 * Commits one chunk file in one transaction, the data going one way: DuckDB reads it
 * (readCsvChunk), the worker places the rows it read on the file's lines, and DuckDB writes the
 * rest, the rejects and the ledger's progress together (storeCsvChunk, recordCsvChunk). Nothing
 * in packages/db calls back into the worker. Only a chunk with records DuckDB could not read is
 * scanned again, to find them: scanning every chunk ahead cost 0.15-0.23 s per 500k records here,
 * far more than the rare chunk that needs it.
 */
export async function commitChunk(
  ctx: ChunkContext,
  chunk: ChunkPlan,
  file: PreparedChunk,
  last: boolean,
): Promise<CsvImportRecord> {
  const { writer, importId } = ctx;
  try {
    const setAside = await readSetAside(ctx.source, ctx.info, chunk.setAside, ctx.latest);
    const { format, columns } = ctx.info;
    const input = {
      file: file.path,
      layout: ctx.info.layout,
      latestDate: ctx.latest,
      importId,
      source: CSV_SOURCE,
      records: chunk.records,
      setAside,
      ...(format === 'parquet' ? { cells: parquetCells(file.path, columns!, chunk.start, chunk.end) } : {}),
      ...(format === 'ndjson' ? { cells: ndjsonCells(file.path) } : {}),
    };
    return await writer.transaction(async (tx) => {
      const read = await readCsvChunk(tx, input);
      const placement = await placeRows(file.path, ctx.info, chunk, read, ctx.warnings);
      const counts = await storeCsvChunk(tx, input, read, placement);
      ctx.empty.count += counts.empty;
      return recordCsvChunk(tx, importId, counts, last);
    });
  } catch (error) {
    const failure = readFailure(error, chunk, ctx.info);
    if (failure !== error)
      ctx.logger.error({ err: error, chunk: chunk.index }, 'csv chunk could not be read');
    throw failure;
  } finally {
    if (file.copy) await rm(file.path, { force: true });
  }
}

/**
 * What the user is told when DuckDB could not read a chunk: the lines, not DuckDB's text (which
 * names server paths). Such a failure is the same on every retry, so the file fails at once.
 * Other errors (the lock lost, a full disk) are left to the job's retries.
 */
function readFailure(error: unknown, chunk: ChunkPlan, info: CsvFileInfo): unknown {
  const lines = chunkLines(chunk, info);
  if (error instanceof CsvCountMismatchError) {
    return new InvalidCsvFileError(
      `${lines} could not be read the way the file check read them (did the file change during the import?); nothing of the file was stored`,
    );
  }
  const message = error instanceof Error ? error.message : '';
  if (/^(Invalid Input|Conversion) Error/.test(message)) {
    const as = info.format === 'parquet' ? 'Parquet' : info.format === 'ndjson' ? 'NDJSON' : 'CSV';
    return new InvalidCsvFileError(`${lines} could not be read as ${as}; nothing of the file was stored`);
  }
  return error;
}

function chunkLines(chunk: ChunkPlan, info: CsvFileInfo): string {
  if (info.chunks.length === 1 || chunk.records === 0) return 'the file';
  if (info.format === 'parquet') return `rows ${chunk.start + 1} to ${chunk.end} of the file`;
  return `lines ${chunk.breaks[0]!.line} to ${lineOf(chunk, chunk.records - 1)} of the file`;
}

/**
 * Maps the rows DuckDB read back to the file: the line of each (for rejects), and the records
 * DuckDB could not read (found by their byte position) with their text. Read row k is the k-th
 * record of the chunk that DuckDB read, so it is record r once the unread records before it are
 * counted.
 */
async function placeRows(
  path: string,
  info: CsvFileInfo,
  chunk: ChunkPlan,
  read: ChunkRead,
  warnings: string[],
): Promise<ChunkPlacement> {
  const unread = new Set<number>();
  const malformed: ChunkPlacement['malformed'] = [];
  if (read.malformed.length > 0) {
    const starts = await recordStarts(path, info.headerBytes.length);
    for (const m of read.malformed) {
      const found = await findRecord(path, starts, m);
      if (!found || unread.has(found.r)) continue;
      unread.add(found.r);
      malformed.push({ line: lineOf(chunk, found.r), raw: found.text, message: m.message });
    }
  }
  // Counts that do not add up fail the chunk (storeCsvChunk); two errors for one record do not.
  if (unread.size !== read.malformed.length) {
    warnings.push(
      `chunk ${chunk.index}: DuckDB reported ${read.malformed.length} unreadable records at ${unread.size} places; line numbers of its rejects may be off`,
    );
  }
  const starts: number[] = [];
  const offsets: number[] = [];
  if (unread.size === 0 && chunk.breaks.length <= 1) {
    starts.push(0);
    offsets.push(chunk.breaks[0]?.line ?? 0);
  } else {
    let k = 0;
    let b = 0;
    for (let r = 0; r < chunk.records; r++) {
      while (b + 1 < chunk.breaks.length && chunk.breaks[b + 1]!.record <= r) b++;
      if (unread.has(r)) continue;
      const offset = chunk.breaks[b]!.line + (r - chunk.breaks[b]!.record) - k;
      if (offsets.length === 0 || offsets[offsets.length - 1] !== offset) {
        starts.push(k);
        offsets.push(offset);
      }
      k++;
    }
    if (starts.length === 0) {
      starts.push(0);
      offsets.push(0);
    }
  }
  return { lines: { starts, offsets }, malformed };
}

/**
 * The record DuckDB reported at a byte position: DuckDB's position can be a byte off, so the
 * records around it are compared with the text it quotes; failing that, the one it falls in.
 */
async function findRecord(
  path: string,
  starts: number[],
  m: MalformedRecord,
): Promise<{ r: number; text: string } | null> {
  const records = starts.length - 1;
  if (records <= 0) return null;
  let lo = 0;
  let hi = records - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= m.bytePosition) lo = mid;
    else hi = mid - 1;
  }
  const wanted = m.text.replace(/^[\r\n]+|[\r\n]+$/g, '');
  let fallback: { r: number; text: string } | null = null;
  for (const r of [lo, lo - 1, lo + 1]) {
    if (r < 0 || r >= records) continue;
    const text = await readSpan(path, { start: starts[r]!, end: starts[r + 1]! });
    if (text === wanted || (wanted.length > 0 && text.startsWith(wanted))) return { r, text };
    if (r === lo) fallback = { r, text };
  }
  return fallback;
}
