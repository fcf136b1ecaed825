import { z } from 'zod';
import { ImportFilePath } from './names.js';
import { UserCsvRow } from './users.js';

/**
 * `datasync migrate --from OLD.duckdb`: the old script's database copied into this one through the
 * same rules. The job payload, the column mapping and the verification report. No field here ever
 * holds a password: a user's old password column is classified (a known hash, or not) and only
 * known hashes reach the users table.
 */

/** The source every migrated sale is stored under; its id is the old row's id. */
export const MIGRATION_SOURCE = 'migration';

/** The fields read from each old table, as the old guide named its columns. */
export const MIGRATION_FIELDS = {
  sales: ['id', 'date', 'user_id', 'product_name', 'quantity', 'unit_price', 'total_amount', 'region'],
  users: ['username', 'email', 'role', 'password_hash'],
} as const;
export type MigrationTable = keyof typeof MIGRATION_FIELDS;

/** Old column names tried in order when no mapping names one (the old script's user CSV said initial_password). */
export const MIGRATION_ALIASES: Record<string, readonly string[]> = {
  'users.password_hash': ['password_hash', 'password', 'initial_password'],
};

const MAP_ENTRY = /^(?:(sales|users)\.)?([a-z_]+)=([A-Za-z_][A-Za-z0-9_ ]{0,127})$/;

/**
 * The mapping option: `FIELD=OLD_COLUMN` (`total_amount=amount`), `TABLE.FIELD=OLD_COLUMN` when a
 * field is in both tables, or `TABLE=OLD_TABLE` (`sales=orders`). Each entry is checked here, so
 * a typo is a 400 naming it, not a failed job.
 */
const MappingEntries = z
  .array(z.string().max(300))
  .max(32)
  .superRefine((entries, ctx) => {
    for (const [i, entry] of entries.entries()) {
      const problem = mappingProblem(entry);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
    }
  });
export const MigrationMapping = MappingEntries.default([]);

function mappingProblem(entry: string): string | null {
  const m = MAP_ENTRY.exec(entry);
  if (!m) return `map entry "${entry}" must be FIELD=OLD_COLUMN, TABLE.FIELD=OLD_COLUMN or TABLE=OLD_TABLE`;
  const [, table, field] = m;
  if (!table && (field === 'sales' || field === 'users')) return null;
  const tables = table ? [table as MigrationTable] : (['sales', 'users'] as const);
  const known = tables.some((t) => (MIGRATION_FIELDS[t] as readonly string[]).includes(field!));
  if (!known) {
    return `map entry "${entry}": ${field} is not a field (sales: ${MIGRATION_FIELDS.sales.join(', ')}; users: ${MIGRATION_FIELDS.users.join(', ')})`;
  }
  return null;
}

/** The mapping entries as old names: `tables.sales` and `columns['sales.total_amount']`. */
export function parseMigrationMapping(entries: readonly string[]): {
  tables: Partial<Record<MigrationTable, string>>;
  columns: Record<string, string>;
} {
  const tables: Partial<Record<MigrationTable, string>> = {};
  const columns: Record<string, string> = {};
  for (const entry of entries) {
    const m = MAP_ENTRY.exec(entry);
    if (!m) continue;
    const [, table, field, old] = m as unknown as [string, string | undefined, string, string];
    if (!table && (field === 'sales' || field === 'users')) {
      tables[field] = old;
      continue;
    }
    for (const t of table ? [table as MigrationTable] : (['sales', 'users'] as const)) {
      if ((MIGRATION_FIELDS[t] as readonly string[]).includes(field)) columns[`${t}.${field}`] = old;
    }
  }
  return { tables, columns };
}

export const MigrateJobData = z.object({
  file: ImportFilePath.describe('path of the uploaded old database file under IMPORT_DIR'),
  originalName: z.string().max(1024).optional(),
  dryRun: z.boolean().default(false).describe('read and check everything, write nothing'),
  map: MigrationMapping.describe('old names: FIELD=OLD_COLUMN, TABLE.FIELD=OLD_COLUMN, TABLE=OLD_TABLE'),
});
export type MigrateJobData = z.infer<typeof MigrateJobData>;

/** `POST /v1/migrations` query: the options of the migration of the uploaded file. */
export const MigrateQuery = z.object({
  dryRun: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('true: only the report, nothing written'),
  map: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .pipe(MappingEntries)
    .describe('repeatable: FIELD=OLD_COLUMN, TABLE.FIELD=OLD_COLUMN or TABLE=OLD_TABLE'),
  name: z.string().max(1024).optional().describe('the file name to show in the report'),
});

/** A user row of the old table, checked like an imported user's (no password field). */
export const MigratedUserRow = UserCsvRow.omit({ initial_password: true });

export const MigrationTableCounts = z.object({
  table: z.enum(['sales', 'users']),
  oldTable: z.string().nullable().describe('the old table read, null when the file has none'),
  read: z.number().int().describe('rows in the old table'),
  stored: z.number().int().describe('rows this migration stored (over all its runs)'),
  rejected: z.number().int().describe('rows quarantined in rejects with the old row and its reasons'),
  existing: z
    .number()
    .int()
    .describe('users: rows whose username or email was already a user here (left as they were)'),
  chunks: z.number().int().describe('transactions; those of an earlier run are skipped'),
  chunksSkipped: z.number().int().describe('chunks already committed by an earlier run'),
});

export const MigrationMonth = z.object({
  month: z.string().describe('YYYY-MM, or "invalid date" for old rows whose date is no date'),
  before: z.object({ rows: z.number().int(), revenue: z.string() }),
  after: z.object({ rows: z.number().int(), revenue: z.string() }),
  rejected: z.object({ rows: z.number().int(), revenue: z.string() }),
});

export const MigrationReport = z.object({
  migrationId: z.string().describe('from the old file content: the same file is migrated once'),
  file: z.string(),
  sha256: z.string(),
  dryRun: z.boolean(),
  tables: z.array(MigrationTableCounts),
  users: z.object({
    keptHashes: z.number().int().describe('argon2 or bcrypt hashes kept: those users sign in as before'),
    mustChangePassword: z
      .number()
      .int()
      .describe('no known hash (plaintext or unknown format): imported without a password'),
  }),
  months: z.array(MigrationMonth),
  differences: z.array(z.string()).describe('every month where before and after differ, and why'),
  rejectsBatchIds: z.array(z.string()).describe('GET /v1/rejects?batchId=... lists the rejected rows'),
  durationMs: z.number().int(),
});
export type MigrationReport = z.infer<typeof MigrationReport>;
