import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { OPERATOR_JOB_PAYLOADS, OPERATOR_JOB_TYPES, type OperatorJobType } from './jobs.js';
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
  format: z
    .enum(['csv', 'parquet', 'ndjson'])
    .optional()
    .describe('read the file as this format (default: from the Content-Type, else from the content)'),
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

/** The answer to an operator job (`POST /v1/jobs/:type`, a CSV upload): 0 workers means it waits. */
export const OperatorJobAccepted = JobAccepted.extend({ queue: z.string(), workers: z.number().int() });
export type OperatorJobAccepted = z.infer<typeof OperatorJobAccepted>;

export const OperatorJobParams = z.object({ type: z.enum(OPERATOR_JOB_TYPES as [OperatorJobType]) });

/**
 * The body of `POST /v1/jobs/:type` as the OpenAPI document shows it. The route checks it by hand
 * against the one payload of the type in the path, so the union only documents.
 */
export const OperatorJobBody = z
  .union(Object.values(OPERATOR_JOB_PAYLOADS) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])
  .describe(
    'the options of the job type in the path: sales-sync {source:"api", url?, days} or {source:"csv", file, force}; user-import {file, updateExisting}; backup {}; backup-cleanup {days?}; restore {name}; verify-backup {name?}; health-check {}',
  );

/** `:id` of the job routes: BullMQ job ids are strings. */
export const JobIdParams = z.object({ id: z.string().min(1).max(200) });

/** `GET /v1/jobs/:id/report` answers a CSV file, not JSON. */
export const UserImportReportCsv = z.string().describe('text/csv');

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

// ---------------------------------------------------------------- dashboard

export const RecentJobsQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });
export const RecentJobs = z.object({ jobs: z.array(JobStatus).describe('newest first') });
export type RecentJobs = z.infer<typeof RecentJobs>;

export const SignInBody = z.object({ key: z.string().min(1).max(500).describe('an operator API key') });
export const SessionInfo = z.object({
  name: z.string(),
  scopes: z.array(z.string()),
  csrfToken: z.string().describe('send it as x-csrf-token on every request that changes something'),
  expiresAt: z.string(),
  timeZone: z.string().describe("DASHBOARD_TZ: the zone of the dashboard's days"),
  today: z.string().describe('the date today in that zone (YYYY-MM-DD)'),
  via: z.enum(['api-key', 'directory']).optional().describe('how the session was opened'),
  grantedBy: z.string().optional().describe('directory sign-in: the group that granted the operator scope'),
  token: z
    .string()
    .optional()
    .describe('directory sign-in with client "cli": the session as a bearer token (no cookie is set)'),
});
export type SessionInfo = z.infer<typeof SessionInfo>;
export const SignInMethods = z.object({
  apiKey: z.literal(true).describe('an operator key always signs in (POST /auth/session)'),
  directory: z.boolean().describe('directory accounts sign in (POST /auth/login): LDAP_SERVER is set'),
});
/** Directory sign-in (`POST /auth/login`). A blank password is refused before the directory is asked. */
export const DirectorySignInBody = z.object({
  username: z.string().trim().min(1, 'must not be empty').max(256).describe('uid, sAMAccountName or mail'),
  password: z
    .string()
    .max(1024)
    .refine((v) => v.trim() !== '', 'must not be blank (an empty LDAP bind is anonymous)')
    .describe('the directory password'),
  client: z
    .enum(['browser', 'cli'])
    .default('browser')
    .describe('browser: a session cookie; cli: the session as a bearer token in the body'),
});
export const NoContent = z.null().describe('no body');
