import { z } from 'zod';
import { MigrateJobData } from './migration.js';
import { BackupName, ImportFilePath } from './names.js';
import { RecordError, StoredSaleTuple } from './sale.js';

/**
 * Queues, job names and their payloads: the one module producers (api, scheduler) and consumers
 * (workers) share. Job data never carries secrets: BullMQ stores it in clear text and Bull Board
 * shows it. Files travel as paths under IMPORT_DIR, never as contents.
 */

export const QUEUES = {
  ingest: 'ingest',
  salesSync: 'sales-sync',
  userImport: 'user-import',
  reports: 'reports',
  backup: 'backup',
  health: 'health',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const ALL_QUEUES: readonly QueueName[] = Object.values(QUEUES);

/** Internal read jobs: the api never opens DuckDB, so reads go to a worker as a job. */
export const REPORT_JOBS = {
  salesSummary: 'sales-summary',
  salesAnalytics: 'sales-analytics',
  rejects: 'list-rejects',
  salesRows: 'list-sales',
  salesBatchOrigin: 'sales-batch-origin',
  backups: 'list-backups',
  exportTable: 'export-table',
} as const;

/** Job names on the `backup` queue (payloads: BackupJobData, BackupCleanupJobData, ... below). */
export const BACKUP_JOBS = {
  backup: 'backup',
  cleanup: 'backup-cleanup',
  restore: 'restore',
  verify: 'verify-backup',
  list: REPORT_JOBS.backups,
} as const;

export const INGEST_JOB = 'sales-batch';

/** Every job name, by what it does: producers and consumers name jobs from here, never by literal. */
export const JOBS = {
  salesBatch: INGEST_JOB,
  salesSync: 'sales-sync',
  userImport: 'user-import',
  healthCheck: 'health-check',
  migrate: 'migrate',
  ...BACKUP_JOBS,
  ...REPORT_JOBS,
} as const;

/** The job types an operator can enqueue with `POST /v1/jobs/:type`, and the queue each goes to. */
export const OPERATOR_JOB_QUEUES = {
  [JOBS.salesSync]: QUEUES.salesSync,
  [JOBS.userImport]: QUEUES.userImport,
  [JOBS.backup]: QUEUES.backup,
  [JOBS.cleanup]: QUEUES.backup,
  [JOBS.restore]: QUEUES.backup,
  [JOBS.verify]: QUEUES.backup,
  [JOBS.healthCheck]: QUEUES.health,
  // The old database's migration runs on the sync-worker beside the other writes of sales.
  [JOBS.migrate]: QUEUES.salesSync,
} as const satisfies Record<string, QueueName>;
export type OperatorJobType = keyof typeof OPERATOR_JOB_QUEUES;
export const OPERATOR_JOB_TYPES = Object.keys(OPERATOR_JOB_QUEUES) as OperatorJobType[];

// ---------------------------------------------------------------- ingest

export const StoredReject = z.object({
  index: z.number().int(),
  raw: z.string().describe('the record as received, JSON text'),
  reasons: z.array(RecordError),
});
export type StoredReject = z.infer<typeof StoredReject>;

export const IngestJobData = z.object({
  batchId: z.string(),
  source: z.string(),
  receivedAt: z.string(),
  idempotencyKeyHash: z.string().nullable(),
  bodyHash: z.string(),
  received: z.number().int(),
  sales: z
    .array(StoredSaleTuple)
    .describe('valid sales as [id, date, user_id, product_name, quantity, unit_price, total_amount, region]'),
  rejects: z.array(StoredReject),
});
export type IngestJobData = z.infer<typeof IngestJobData>;

export const IngestJobResult = z.object({
  batchId: z.string(),
  stored: z.number().int().describe('rows written (new or updated by id)'),
  rejected: z.number().int(),
  duplicate: z.boolean().describe('true when the batch had already been committed: nothing was written'),
  committedAt: z.string(),
});
export type IngestJobResult = z.infer<typeof IngestJobResult>;

// ---------------------------------------------------------------- operator jobs

/** The formats of a sales file import (`source: csv`, the file import): all go through the same rules. */
export const SALES_FILE_FORMATS = ['csv', 'parquet', 'ndjson'] as const;
export const SalesFileFormat = z.enum(SALES_FILE_FORMATS);
export type SalesFileFormat = z.infer<typeof SalesFileFormat>;

export const SalesSyncJobData = z.discriminatedUnion('source', [
  z.object({
    source: z.literal('csv'),
    file: ImportFilePath.describe('path of the uploaded file under IMPORT_DIR'),
    originalName: z.string().optional(),
    force: z.boolean().default(false).describe('import even when this file was imported before'),
    format: SalesFileFormat.optional().describe('csv, parquet or ndjson; by default found from the content'),
  }),
  z.object({
    source: z.literal('api'),
    url: z
      .url({ protocol: /^https?$/, error: 'url must be an http or https URL' })
      .optional()
      .describe('defaults to SALES_API_URL'),
    days: z.number().int().min(1).max(3650).default(1),
  }),
  z.object({
    // Pulls from SALES_DB_URL (the credentials stay in the worker's environment, never in a job).
    source: z.literal('sql'),
  }),
]);
export type SalesSyncJobData = z.infer<typeof SalesSyncJobData>;

export const UserImportJobData = z.object({
  file: ImportFilePath.describe('path of the uploaded file under IMPORT_DIR'),
  updateExisting: z.boolean().default(false),
});
export type UserImportJobData = z.infer<typeof UserImportJobData>;

export const BackupJobData = z.object({ reason: z.string().optional() }).default({});
export const BackupCleanupJobData = z
  .object({
    days: z.number().int().min(1).max(36_500).optional().describe('defaults to BACKUP_RETENTION_DAYS'),
  })
  .default({});
export const RestoreJobData = z.object({
  name: BackupName.describe('backup name, as GET /v1/backups lists it'),
});
export const VerifyBackupJobData = z
  .object({ name: BackupName.optional().describe('defaults to the newest backup') })
  .default({});
export const HealthCheckJobData = z.object({}).default({});

/** Payload schema of each operator job type (the body of `POST /v1/jobs/:type`). */
export const OPERATOR_JOB_PAYLOADS = {
  [JOBS.salesSync]: SalesSyncJobData,
  [JOBS.userImport]: UserImportJobData,
  [JOBS.backup]: BackupJobData,
  [JOBS.cleanup]: BackupCleanupJobData,
  [JOBS.restore]: RestoreJobData,
  [JOBS.verify]: VerifyBackupJobData,
  [JOBS.healthCheck]: HealthCheckJobData,
  [JOBS.migrate]: MigrateJobData,
} as const satisfies Record<OperatorJobType, z.ZodType>;

// ---------------------------------------------------------------- report jobs

export const SalesSummaryQuery = z.object({
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
  groupBy: z.enum(['day', 'region', 'product']).default('day'),
});
export type SalesSummaryQuery = z.infer<typeof SalesSummaryQuery>;

export const RejectsQuery = z.object({
  batchId: z.string().max(200).optional(),
  source: z.string().max(200).optional(),
  reason: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe('only rejects with a reason containing this text (any case)'),
  // A query string says "true"; the job the api hands the worker carries the boolean.
  newest: z
    .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
    .default(false)
    .describe('newest first (default: oldest first)'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
export type RejectsQuery = z.infer<typeof RejectsQuery>;
