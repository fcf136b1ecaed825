import { z } from 'zod';
import { RejectsQuery, SalesSummaryQuery } from './jobs.js';
import { RecordError, SALE_KEYS } from './sale.js';

/**
 * Sales sync: CSV import and the upstream API pull (the `sales-sync` queue), and the report reads
 * (the `reports` queue). Job payloads are `SalesSyncJobData` in jobs.ts; results, report queries
 * and answers are here.
 */

/** Columns a sales CSV must have (any order, matched case-insensitively after trimming). */
export const SALE_CSV_REQUIRED_COLUMNS = SALE_KEYS.filter(
  (k): k is Exclude<(typeof SALE_KEYS)[number], 'id'> => k !== 'id',
);
/** Optional: the upstream's own id; rows with one upsert by (source, id). Other columns are ignored. */
export const SALE_CSV_OPTIONAL_COLUMNS = ['id'] as const;
export type SaleCsvColumn =
  | (typeof SALE_CSV_REQUIRED_COLUMNS)[number]
  | (typeof SALE_CSV_OPTIONAL_COLUMNS)[number];

/** The source every CSV import's rows are stored under: ids upsert across files, not per file. */
export const CSV_SOURCE = 'csv';

/** The source of rows pulled from an upstream API: one per host, each with its own watermark. */
export function upstreamSource(url: string | URL): string {
  return `upstream:${new URL(url).host}`;
}

export const UPSTREAM_ZERO_SALES_WARNING = 'no sales returned for the window';

// ---------------------------------------------------------------- job results

export const CsvImportResult = z.object({
  source: z.literal('csv'),
  importId: z.string().describe('the rows and rejects of this import carry it as their batch id'),
  format: z
    .enum(['csv', 'parquet', 'ndjson'])
    .optional()
    .describe('how the file was read (rows of every format are stored under the source csv)'),
  sha256: z.string().describe('of the file: the same content is imported once unless forced'),
  received: z.number().int().describe('records in the file (blank lines not counted)'),
  accepted: z.number().int().describe('valid records stored (new, or replacing a sale with the same id)'),
  rejected: z.number().int().describe('records quarantined in rejects with their line and reasons'),
  duplicates: z
    .number()
    .int()
    .describe(
      'accepted records whose (source, id) was already stored or repeats later in the file; for a duplicate file, all of its records',
    ),
  duplicateOf: z
    .string()
    .nullable()
    .describe('the earlier import of the same file when this one was a no-op'),
  chunks: z.number().int().describe('transactions the rows were committed in'),
  durationMs: z.number().int(),
  rowsPerSecond: z.number().int(),
  warnings: z.array(z.string()),
});
export type CsvImportResult = z.infer<typeof CsvImportResult>;

export const SyncWindow = z.object({
  from: z.iso.date().describe('first date of the window (inclusive, UTC)'),
  to: z.iso.date().describe('last date of the window (inclusive, UTC)'),
});
export type SyncWindow = z.infer<typeof SyncWindow>;

export const UpstreamSyncResult = z.object({
  source: z.literal('api'),
  sourceName: z.string().describe('what the rows are stored under: upstream:<host>'),
  runId: z.string(),
  pages: z.number().int(),
  received: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  window: SyncWindow,
  watermark: z.iso.date().describe('the next run starts here (or earlier, by days)'),
  replaced: z.number().int().describe('rows of this source in the window before the run'),
  warnings: z.array(z.string()),
  durationMs: z.number().int(),
});
export type UpstreamSyncResult = z.infer<typeof UpstreamSyncResult>;

export const SqlCountMismatch = z.object({
  day: z.string().describe('a sale date'),
  source: z.number().int().describe('rows of that day at the source, up to the watermark'),
  stored: z.number().int().describe('rows of that day stored or quarantined here'),
});

export const SqlSyncResult = z.object({
  source: z.literal('sql'),
  sourceName: z
    .string()
    .describe('what the rows are stored under: sql:<host[:port]>/<database>/<table|query>'),
  runId: z.string(),
  pages: z.number().int().describe('pages committed, each in its own transaction with the watermark'),
  received: z
    .number()
    .int()
    .describe('rows read from the source (those already stored at the boundary not counted)'),
  accepted: z.number().int(),
  rejected: z.number().int(),
  window: z.object({
    from: z
      .string()
      .nullable()
      .describe('the cursor value the run started at (after the look-back); null: the start'),
    to: z.string().nullable().describe('the watermark after the run'),
  }),
  watermark: z
    .string()
    .nullable()
    .describe('the cursor value of the last row committed, exactly as the source has it'),
  countCheck: z.object({
    days: z.number().int().describe('sale dates of the window compared with the source'),
    mismatches: z.array(SqlCountMismatch),
  }),
  warnings: z.array(z.string()),
  durationMs: z.number().int(),
  rowsPerSecond: z.number().int(),
});
export type SqlSyncResult = z.infer<typeof SqlSyncResult>;

export const SalesSyncResult = z.discriminatedUnion('source', [
  CsvImportResult,
  UpstreamSyncResult,
  SqlSyncResult,
]);
export type SalesSyncResult = z.infer<typeof SalesSyncResult>;

// ---------------------------------------------------------------- upstream format

/**
 * One page of the upstream API: a plain JSON array of sales (one page, unless a Link header says
 * `rel="next"`), or an envelope holding the sales under `data`, `sales` or `records` and the next
 * page under `next` (a URL, absolute or relative, or an opaque cursor sent back as `?cursor=`).
 */
export const UpstreamEnvelope = z.looseObject({
  data: z.array(z.unknown()).optional(),
  sales: z.array(z.unknown()).optional(),
  records: z.array(z.unknown()).optional(),
  next: z.string().nullable().optional(),
});
export type UpstreamEnvelope = z.infer<typeof UpstreamEnvelope>;

// ---------------------------------------------------------------- reports

export const SalesSummaryRequest = SalesSummaryQuery.refine(
  (q) => q.from === undefined || q.to === undefined || q.from <= q.to,
  { message: 'from must not be after to', path: ['from'] },
);
export type SalesSummaryRequest = z.infer<typeof SalesSummaryRequest>;

export const SalesSummaryRow = z.object({
  key: z.string().describe('the day (YYYY-MM-DD), region or product name'),
  count: z.number().int().describe('sales'),
  quantity: z.number().int().describe('units sold'),
  revenue: z.string().describe('sum of total_amount, an exact decimal with 2 places'),
});
export type SalesSummaryRow = z.infer<typeof SalesSummaryRow>;

export const SalesSummary = z.object({
  groupBy: z.enum(['day', 'region', 'product']),
  from: z.string().nullable(),
  to: z.string().nullable(),
  rows: z.array(SalesSummaryRow),
  totals: SalesSummaryRow.omit({ key: true }),
  truncated: z.boolean().describe('more groups than the answer holds (10,000)'),
});
export type SalesSummary = z.infer<typeof SalesSummary>;

export const RejectsFilter = RejectsQuery.extend({
  importId: z.string().max(200).optional().describe('the rejects of one CSV import (its importId)'),
});
export type RejectsFilter = z.infer<typeof RejectsFilter>;

export const RejectEntry = z.object({
  source: z.string(),
  batchId: z.string().describe('the ingest batch, CSV import or upstream run'),
  kind: z.string().describe('sale (JSON batch or upstream page) or csv'),
  rowNumber: z
    .number()
    .int()
    .describe(
      'JSON: 0-based index in the batch or pull; CSV and NDJSON files: the line where the record starts; Parquet: the row (1-based)',
    ),
  raw: z.string().describe('the record as received: JSON text (CSV: the cells by column name)'),
  reasons: z.array(RecordError),
  rejectedAt: z.string(),
});
export type RejectEntry = z.infer<typeof RejectEntry>;

export const RejectsPage = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  items: z.array(RejectEntry),
});
export type RejectsPage = z.infer<typeof RejectsPage>;
