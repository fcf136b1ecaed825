import { z } from 'zod';

// `GET /v1/exports/{table}` and `datasync export TABLE`: a table streamed out of DuckDB as CSV or
// Parquet. The worker writes the file (the api never opens DuckDB) under IMPORT_DIR, the folder
// both already share for uploads, and the api streams it to the client and deletes it.

export const EXPORT_TABLES = ['sales', 'rejects', 'users'] as const;
export const ExportTable = z.enum(EXPORT_TABLES, {
  error: `table must be one of ${EXPORT_TABLES.join(', ')}`,
});
export type ExportTable = z.infer<typeof ExportTable>;

export const EXPORT_FORMATS = ['csv', 'parquet'] as const;
export const ExportFormat = z.enum(EXPORT_FORMATS, {
  error: `format must be one of ${EXPORT_FORMATS.join(', ')}`,
});
export type ExportFormat = z.infer<typeof ExportFormat>;

/** The folder of IMPORT_DIR the exports pass through (hidden, like the CSV import's `.chunks`). */
export const EXPORTS_FOLDER = '.exports';

/** Content types of the files, as the api sends them. */
export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

export const ExportParams = z.object({ table: ExportTable });

const day = (which: string) =>
  z.iso
    .date({ error: `${which} must be a date, YYYY-MM-DD` })
    .optional()
    .describe(
      `${which === 'from' ? 'first' : 'last'} day, inclusive (UTC): the sale date for sales, the time quarantined for rejects, the time created for users`,
    );

export const ExportQuery = z
  .object({
    format: ExportFormat.default('csv'),
    from: day('from'),
    to: day('to'),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: 'from must not be after to',
    path: ['from'],
  });
export type ExportQuery = z.output<typeof ExportQuery>;

/** The `export-table` job on the reports queue. */
export const ExportTableJobData = z.object({
  table: ExportTable,
  format: ExportFormat,
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
});
export type ExportTableJobData = z.infer<typeof ExportTableJobData>;

export const ExportTableResult = z.object({
  // A name, not a path: the api finds it in its own IMPORT_DIR, which may be mounted elsewhere.
  file: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/, 'a file name in IMPORT_DIR/.exports')
    .describe('the file name in IMPORT_DIR/.exports'),
  rows: z.number().int(),
  bytes: z.number().int(),
});
export type ExportTableResult = z.infer<typeof ExportTableResult>;

/** `GET /v1/exports/{table}` answers the file itself, not JSON. */
export const ExportFile = z
  .string()
  .describe(
    'the file: text/csv (header row, RFC 4180 quoting) or application/vnd.apache.parquet; headers x-export-rows and content-length give its rows and bytes',
  );
