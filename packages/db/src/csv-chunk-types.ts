import type { SaleCsvColumn } from '@datasync/schemas';

/** The types of a CSV chunk's import (csv-chunk.ts), shared with the worker that drives it. */

export interface CsvLayout {
  /** Header cells as written (trimmed), in file order: the raw JSON of a rejected row uses them. */
  header: readonly string[];
  /** Where each sale column is in the header; `id` may be absent. */
  positions: Partial<Record<SaleCsvColumn, number>>;
}

/** A record DuckDB could not split into the header's columns (too many or too few fields...). */
export interface MalformedRecord {
  /** Where DuckDB says the record starts in the chunk file (it can be a byte or so off). */
  bytePosition: number;
  /** The record as DuckDB quotes it, to find it exactly. */
  text: string;
  message: string;
}

/** Where the rows DuckDB read lie in the file, from the worker's own scan of the chunk. */
export interface ChunkPlacement {
  /**
   * Line of read row k (0-based, in file order, the unreadable records skipped): k + offsets[i]
   * for the last i with starts[i] <= k. Usually one entry; blank lines, multi-line records and
   * unreadable records add one each.
   */
  lines: { starts: number[]; offsets: number[] };
  /** The unreadable records with their line and text. */
  malformed: { line: number; raw: string; message: string }[];
}

/** A record the worker quarantines itself (DuckDB never reads it): its line, raw text, reasons. */
export interface SetAsideReject {
  line: number;
  /** JSON text: the cells by header name, or the record's text as a JSON string. */
  raw: string;
  reasons: { path: string; message: string }[];
}

export interface CsvChunkInput {
  file: string;
  layout: CsvLayout;
  /** latestSaleDate() when the import began. */
  latestDate: string;
  importId: string;
  source: string;
  /** Records in the chunk file as the worker's scan counted them (blank lines not counted). */
  records: number;
  /** Records of the chunk left out of the chunk file, stored as rejects with it. */
  setAside?: SetAsideReject[];
  /** Another reader than read_csv of `file` (Parquet, NDJSON: file-cells.ts). */
  cells?: FileCells;
}

/**
 * A reader of a chunk other than read_csv: it never reports unreadable records (DuckDB's CSV
 * rejects); every record is a row, blank ones with every cell NULL.
 */
export interface FileCells {
  /** A table expression yielding the cells c0..c<n> (layout.header's) as VARCHAR, in file order. */
  from: string;
  /** JSON text of a rejected row's raw record, over the cells (default: the cells by header name). */
  raw?: string;
  /**
   * The cell holding a JSON list of `{path, message}` that refuse the row whatever the rules say
   * (NDJSON: not JSON, not an object, a field of the wrong JSON type); a path '' refuses the whole
   * record, so the rules' reasons are left out.
   */
  refusedCell?: number;
}

/**
 * What readCsvChunk did with a chunk file: the worker places the rows on the file's lines, then
 * hands it back to storeCsvChunk unchanged.
 */
export interface ChunkRead {
  /** Rows DuckDB read (blank rows of empty cells included, unreadable records not). */
  rows: number;
  /** The records DuckDB could not read. */
  malformed: MalformedRecord[];
  /** Rows the strict fast path put straight into sales. */
  fastRows: number;
  /** The other rows read are in temp.csv_read_rows (a second read of the chunk file). */
  slowPass: boolean;
  /** The largest rowid of sales before the chunk: the chunk's rows are above it. */
  before: bigint;
  /** The source had rows with an id before the chunk (the upsert must look at them). */
  storedIds: boolean;
}

export interface ChunkCounts {
  accepted: number;
  rejected: number;
  duplicates: number;
}

export interface ChunkResult extends ChunkCounts {
  /** Records of the chunk: accepted + rejected (rows whose every cell is empty are no record). */
  received: number;
  /** Rows of the chunk file whose every cell is empty: skipped, like blank lines. */
  empty: number;
}

/**
 * The chunk's counts do not add up to its records (DuckDB read more or fewer rows than the
 * worker's scan found): nothing of the chunk is committed, and a retry would do the same.
 */
export class CsvCountMismatchError extends Error {
  override readonly name = 'CsvCountMismatchError';
}
