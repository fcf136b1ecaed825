import { z } from 'zod';

/**
 * Bulk user import: the CSV row rule set, the per-row report and the job result. Passwords appear
 * only in `UserCsvRow` (the parsed file, in the worker's memory); nothing that leaves the worker
 * (job result, report, rejects table, logs) has a field for one.
 */

export const USER_ROLES = ['user', 'manager', 'admin'] as const;
export const UserRole = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof UserRole>;

export const USER_CSV_COLUMNS = ['username', 'email', 'role', 'initial_password'] as const;

export const USER_LIMITS = {
  usernameMin: 3,
  usernameMax: 64,
  emailMax: 254,
  passwordMin: 8,
  // argon2 hashes any length; the cap keeps one row from costing megabytes of hashing input.
  passwordMax: 1024,
  // The whole file is validated in memory and its report travels in the job result.
  rowsMax: 200_000,
} as const;

const USERNAME = /^[a-z0-9._-]+$/;

// The raw cell must already be ASCII: toLowerCase() folds some non-ASCII letters into ASCII
// (U+212A KELVIN SIGN becomes "k"), which would let look-alike names pass as plain ones.
const foldedUsername = z
  .string()
  .trim()
  .refine((v) => /^[\x20-\x7e]*$/.test(v), 'username must be plain ASCII')
  .transform((v) => v.toLowerCase())
  .pipe(
    z
      .string()
      .min(
        USER_LIMITS.usernameMin,
        `username must be ${USER_LIMITS.usernameMin} to ${USER_LIMITS.usernameMax} characters`,
      )
      .max(
        USER_LIMITS.usernameMax,
        `username must be ${USER_LIMITS.usernameMin} to ${USER_LIMITS.usernameMax} characters`,
      )
      .regex(USERNAME, "username may contain only a-z, 0-9, '.', '_' and '-'"),
  );

const foldedEmail = z
  .string()
  .trim()
  .transform((v) => v.toLowerCase())
  .pipe(
    z
      .string()
      .max(USER_LIMITS.emailMax, `email must be at most ${USER_LIMITS.emailMax} characters`)
      .pipe(z.email('email must be a valid address')),
  );

const role = z
  .string()
  .trim()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(USER_ROLES, `role must be one of ${USER_ROLES.join(', ')}`));

// Not trimmed: spaces are part of a password. Messages never quote the value.
const initialPassword = z
  .string()
  .min(USER_LIMITS.passwordMin, `initial_password must be at least ${USER_LIMITS.passwordMin} characters`)
  .max(USER_LIMITS.passwordMax, `initial_password must be at most ${USER_LIMITS.passwordMax} characters`);

/** One row of the user import CSV, case-folded. The output holds the plaintext password. */
export const UserCsvRow = z.object({
  username: foldedUsername,
  email: foldedEmail,
  role,
  initial_password: initialPassword,
});
export type UserCsvRow = z.output<typeof UserCsvRow>;

export const UserImportStatus = z.enum(['created', 'updated', 'exists', 'rejected']);
export type UserImportStatus = z.infer<typeof UserImportStatus>;

/** One line of the per-row report. Never a password. */
export const UserImportReportRow = z.object({
  line: z.number().int().describe('line of the file where the row starts (the header is line 1)'),
  username: z
    .string()
    .describe('case-folded when valid, else the cell as given (control characters replaced)'),
  status: UserImportStatus,
  reason: z.string().nullable().describe('why a row was rejected, or a note on exists/updated'),
});
export type UserImportReportRow = z.infer<typeof UserImportReportRow>;

export const UserImportCounts = z.object({
  created: z.number().int(),
  updated: z.number().int(),
  exists: z.number().int(),
  rejected: z.number().int(),
});
export type UserImportCounts = z.infer<typeof UserImportCounts>;

/** The result of a user-import job (GET /v1/jobs/:id `result`); the report CSV is built from `rows`. */
export const UserImportResult = z.object({
  jobId: z.string(),
  updateExisting: z.boolean(),
  rows: z.number().int().describe('data rows in the file'),
  counts: UserImportCounts,
  report: z.array(UserImportReportRow),
  durationMs: z.number().int(),
  finishedAt: z.string(),
  /** Absent from results stored before warnings were added. */
  warnings: z
    .array(z.string())
    .optional()
    .describe('what the user should know: no rows in the file, rows with bytes that are not UTF-8'),
});
export type UserImportResult = z.infer<typeof UserImportResult>;
