import { rm } from 'node:fs/promises';
import {
  type ChunkMerge,
  type CsvImportRecord,
  type DatabaseWriter,
  dropStagedChunk,
  type MalformedRecord,
  mergeCsvChunk,
  recordCsvChunk,
  type StagedChunk,
  StageLostError,
  stageCsvChunk,
  stagedTableName,
} from '@datasync/db';
import { CSV_SOURCE } from '@datasync/schemas';
import type { Logger } from 'pino';
import { lineOf, readSpan, recordSpans } from './csv-chunks.js';
import type { ChunkPlan, CsvFileInfo } from './csv-file.js';

export interface ChunkContext {
  writer: DatabaseWriter;
  logger: Logger;
  importId: string;
  info: CsvFileInfo;
  /** latestSaleDate() when the import began: one rule for every chunk. */
  latest: string;
  /** Line-number doubts are added here for the job result. */
  warnings: string[];
}

/**
 * Commits one chunk file: DuckDB stages it (reads and validates it into memory, beside the
 * database), then one transaction writes its rows, its rejects and the ledger's progress. Staging
 * and committing are separate operations on the writer, so a process waiting for the lock gets it
 * between them or after the commit. If it got it between them, the staged table went with the
 * closed database: the chunk is staged again.
 */
export async function commitChunk(
  ctx: ChunkContext,
  chunk: ChunkPlan,
  path: string,
  last: boolean,
): Promise<CsvImportRecord> {
  const { writer, importId } = ctx;
  if (chunk.records === 0) {
    // Only blank lines after the last full chunk, or a file of a header only.
    return writer.transaction((tx) =>
      recordCsvChunk(tx, importId, { received: 0, accepted: 0, rejected: 0, duplicates: 0 }, last),
    );
  }
  const table = stagedTableName(`${importId}_${chunk.index}`);
  try {
    for (let attempt = 1; ; attempt++) {
      const staged = await writer.read((conn) =>
        stageCsvChunk(conn, { file: path, layout: ctx.info.layout, latestDate: ctx.latest, table }),
      );
      const merge = await placeRows(path, ctx.info, chunk, staged, ctx.warnings);
      try {
        return await writer.transaction(async (tx) => {
          const counts = await mergeCsvChunk(tx, staged, { ...merge, importId, source: CSV_SOURCE });
          const received = staged.rows - staged.blank + staged.malformed.length;
          return recordCsvChunk(tx, importId, { ...counts, received }, last);
        });
      } catch (error) {
        if (!(error instanceof StageLostError) || attempt >= 5) throw error;
        ctx.logger.debug({ chunk: chunk.index, attempt }, 'staged chunk lost to a handover; staging again');
      }
    }
  } finally {
    await writer.read((conn) => dropStagedChunk(conn, table)).catch(() => undefined);
    await rm(path, { force: true });
  }
}

/**
 * Maps the staged rows back to the file: the line of each (for rejects), and the records DuckDB
 * could not read (found by their byte position) with their text. Staged row k is the k-th record
 * of the chunk that DuckDB read, so it is record r once the unread records before it are counted.
 */
async function placeRows(
  path: string,
  info: CsvFileInfo,
  chunk: ChunkPlan,
  staged: StagedChunk,
  warnings: string[],
): Promise<Omit<ChunkMerge, 'importId' | 'source'>> {
  const unread = new Set<number>();
  const malformed: ChunkMerge['malformed'] = [];
  if (staged.malformed.length > 0) {
    const spans = await recordSpans(path, info.headerBytes.length);
    for (const m of staged.malformed) {
      const found = await findRecord(path, spans, m);
      if (!found || unread.has(found.r)) continue;
      unread.add(found.r);
      malformed.push({ line: lineOf(chunk, found.r), raw: found.text, message: m.message });
    }
  }
  if (staged.rows + unread.size !== chunk.records || unread.size !== staged.malformed.length) {
    warnings.push(
      `chunk ${chunk.index}: DuckDB read ${staged.rows} records and skipped ${staged.malformed.length} where ${chunk.records} were expected; line numbers of its rejects may be off`,
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
  return { lines: { starts, offsets }, malformed, withIds: info.layout.positions.id !== undefined };
}

/**
 * The record DuckDB reported at a byte position: DuckDB's position can be a byte off, so the
 * records around it are compared with the text it quotes; failing that, the one it falls in.
 */
async function findRecord(
  path: string,
  spans: { start: number; end: number }[],
  m: MalformedRecord,
): Promise<{ r: number; text: string } | null> {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (spans[mid]!.start <= m.bytePosition) lo = mid;
    else hi = mid - 1;
  }
  if (spans.length === 0) return null;
  const wanted = m.text.replace(/^[\r\n]+|[\r\n]+$/g, '');
  let fallback: { r: number; text: string } | null = null;
  for (const r of [lo, lo - 1, lo + 1]) {
    const span = spans[r];
    if (!span) continue;
    const text = await readSpan(path, span);
    if (text === wanted || (wanted.length > 0 && text.startsWith(wanted))) return { r, text };
    if (r === lo) fallback = { r, text };
  }
  return fallback;
}
