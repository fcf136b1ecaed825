import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RecordError, SaleInput } from './sale.js';

/** RFC 9457 problem details; `errors` lists per-record or per-field problems. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  errors: z.array(RecordError).optional(),
});
export type Problem = z.infer<typeof Problem>;

export const SalesBatchBody = z.union([z.array(SaleInput), z.object({ records: z.array(SaleInput) })]);

/** A yes/no query parameter: `true`/`1` or `false`/`0`; anything else is a 400 naming it. */
export const QueryFlag = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((v) => v === 'true' || v === '1');

export const BatchQuery = z.object({
  wait: QueryFlag.describe('answer only after the batch is committed in DuckDB'),
});

export const ImportQuery = z.object({
  force: QueryFlag.describe('import even when the same file (by content) was imported before'),
});

export const JobQuery = z.object({
  updateExisting: QueryFlag.describe('user-import with a file body: update users that exist'),
});

export const BatchReceipt = z.object({
  batchId: z.string(),
  jobId: z.string(),
  received: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  errors: z.array(RecordError),
  duplicates: z
    .number()
    .int()
    .optional()
    .describe(
      'accepted records whose id repeats later in this batch: the last one with an id is stored, as a later batch replaces an earlier one',
    ),
  committed: z.boolean().optional().describe('with ?wait=true: the batch is committed'),
  duplicate: z
    .boolean()
    .optional()
    .describe('with ?wait=true: an earlier identical batch was already committed'),
});
export type BatchReceipt = z.infer<typeof BatchReceipt>;

export const JobAccepted = z.object({ jobId: z.string(), type: z.string() });
export type JobAccepted = z.infer<typeof JobAccepted>;

export const JobState = z.enum([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
  'unknown',
]);

export const JobStatus = z.object({
  id: z.string(),
  type: z.string(),
  queue: z.string(),
  state: JobState,
  progress: z.unknown(),
  attempts: z.number().int(),
  result: z.unknown(),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type JobStatus = z.infer<typeof JobStatus>;

export const HealthBody = z.object({ status: z.literal('ok'), uptimeSeconds: z.number() });

export const ReadyBody = z.object({
  status: z.enum(['ready', 'not-ready']),
  redis: z.enum(['ok', 'down']),
  queues: z.record(z.string(), z.object({ workers: z.number().int(), ok: z.boolean() })),
});
export type ReadyBody = z.infer<typeof ReadyBody>;

/** An API key as `API_KEYS_FILE` stores it: the secret only as its sha256. */
export const ApiKeyScope = z.enum(['ingest', 'operator']);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;
export const ApiKeyEntry = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'name: 1 to 64 of letters, digits, dot, dash, underscore'),
  scopes: z.array(ApiKeyScope).min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits'),
});
export type ApiKeyEntry = z.infer<typeof ApiKeyEntry>;
export const ApiKeysFile = z.array(ApiKeyEntry);

/** A new API key: `ds_` and 32 random bytes, base64url. Shown once; only its sha256 is stored. */
export function newApiKeySecret(): string {
  return `ds_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
