import { z } from 'zod';

/**
 * Every environment variable the processes read, validated once at start. A bad value stops the
 * process with a message naming the variable (see `formatEnvError`). Names from the old
 * `data_sync.py` stay as they were.
 */

// An empty value (`PORT=` in a .env file) means "the default", never 0.
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? def : v),
    z.coerce.number().int().min(min).max(max),
  );
/** The same path written two ways ("./data/x" and "data/x"); no node:path here, the browser reads this package too. */
const sameFile = (a: string, b: string) => a.replace(/^(\.\/)+/, '') === b.replace(/^(\.\/)+/, '');

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(z.url().optional());
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? def : ['true', '1', 'yes'].includes(v)));

/** A cron expression (5 or 6 fields) or `off`. Checked in depth by the scheduler's cron parser. */
const schedule = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) => v.trim())
    .refine(
      (v) => v === 'off' || /^(\S+\s+){4,5}\S+$/.test(v),
      'must be a cron expression of 5 or 6 fields, or "off"',
    );

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};
const TIME_ZONE_MESSAGE = 'must be an IANA time zone name such as UTC or Europe/Berlin';
const timeZone = z.string().default('UTC').refine(isTimeZone, TIME_ZONE_MESSAGE);
const optionalTimeZone = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .refine((v) => v === undefined || isTimeZone(v), TIME_ZONE_MESSAGE);

/** Matches the name as a POSIX uid, an Active Directory sAMAccountName or a mail address. */
export const DEFAULT_LDAP_USER_FILTER =
  '(|(uid={{username}})(sAMAccountName={{username}})(mail={{username}}))';
const SQL_COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const SQL_TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/;
const SQL_URL_MESSAGE =
  'must be a postgres://, postgresql://, mysql:// or mariadb:// URL with a host and a database';
/** A URL the SQL source can connect to. The value itself is secret: never put it in a message. */
function sqlSourceUrl(v: string): boolean {
  try {
    const url = new URL(v);
    return (
      ['postgres:', 'postgresql:', 'mysql:', 'mariadb:'].includes(url.protocol) &&
      url.hostname !== '' &&
      url.pathname.length > 1
    );
  } catch {
    return false;
  }
}

export const EnvConfig = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),

    // HTTP
    HOST: z.string().default('0.0.0.0'),
    PORT: int(3000, 0, 65535),
    PUBLIC_URL: optionalUrl.describe('the URL people reach the api at, for printed links'),
    API_KEYS: optionalText.describe('name:scope[+scope]:secret, comma separated'),
    API_KEYS_FILE: optionalText.describe('JSON file of {name, scopes, sha256} entries'),
    METRICS_TOKEN: optionalText.describe('when set, /metrics wants Authorization: Bearer <token>'),
    MAX_BATCH_RECORDS: int(10_000, 1, 1_000_000),
    MAX_BODY_BYTES: int(10 * 1024 * 1024, 1024),
    MAX_INGEST_BACKLOG: int(2_000, 1).describe('ingest jobs waiting before POST answers 429'),
    IDEMPOTENCY_TTL_SECONDS: int(86_400, 60),
    WAIT_TIMEOUT_MS: int(60_000, 100).describe('how long ?wait=true waits for the commit'),
    MAX_UPLOAD_BYTES: int(20 * 1024 ** 3, 1024).describe('size limit of an uploaded CSV file'),
    REDIS_COMMAND_TIMEOUT_MS: int(2_000, 100).describe('api: a Redis command unanswered this long is a 503'),
    HTTP_HEADERS_TIMEOUT_MS: int(30_000, 100).describe('time a client has to send the request headers'),
    HTTP_IDLE_TIMEOUT_MS: int(180_000, 100).describe('a connection with no traffic either way is closed'),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: int(72_000, 100).describe('an idle kept-alive connection is closed'),
    HTTP_BODY_TIMEOUT_MS: int(30_000, 100).describe('a body must advance HTTP_BODY_MIN_BYTES per this'),
    HTTP_BODY_MIN_BYTES: int(16_384, 1).describe('bytes a body must advance per HTTP_BODY_TIMEOUT_MS'),

    // Dashboard
    DASHBOARD_TZ: optionalTimeZone.describe("time zone of the dashboard's days; default SCHEDULE_TZ"),
    SESSION_TTL_MINUTES: int(480, 5, 10_080).describe('a dashboard session ends this long after sign-in'),
    DASHBOARD_DIR: optionalText.describe('the built dashboard; default apps/dashboard/dist'),

    // Storage
    REDIS_URL: z.string().default('redis://127.0.0.1:6379').pipe(z.url()),
    DATABASE_PATH: z.string().min(1).default('./data/dashboard.duckdb'),
    BACKUP_DIR: z.string().min(1).default('./backups'),
    IMPORT_DIR: z.string().min(1).default('./data/imports'),
    DUCKDB_THREADS: int(0, 0, 256).describe('0: DuckDB picks (all cores)'),
    DUCKDB_MEMORY_LIMIT: optionalText.describe('e.g. 2GB; DuckDB default is 80% of RAM'),
    ANALYTICS_SNAPSHOT_PATH: optionalText.describe('a read-only copy of the database for other tools'),
    ANALYTICS_SNAPSHOT_INTERVAL_S: int(60, 1, 86_400).describe('the copy is refreshed at most this often'),

    // Writer lock and job handling
    WRITER_LOCK_LEASE_MS: int(15_000, 500),
    WRITER_LOCK_IDLE_RELEASE_MS: int(5_000, 0).describe('an idle holder closes the database after this'),
    JOB_ATTEMPTS: int(8, 1, 100),
    JOB_BACKOFF_MS: int(1_000, 10),
    WORKER_LOCK_DURATION_MS: int(10_000, 500),
    INGEST_CONCURRENCY: int(32, 1, 1000).describe('ingest jobs a sync-worker holds for group commit'),
    GROUP_COMMIT_MAX_ROWS: int(50_000, 1),
    GROUP_COMMIT_MAX_WAIT_MS: int(10, 0),

    // Upstream sales API (old names)
    SALES_API_URL: optionalUrl,
    SALES_API_KEY: optionalText,
    SALES_API_TIMEOUT_MS: int(30_000, 100),
    SALES_API_MAX_RETRIES: int(5, 0, 50),
    CSV_CHUNK_ROWS: int(500_000, 1000, 10_000_000),

    // Backups
    BACKUP_RETENTION_DAYS: int(30, 1),
    AWS_S3_BACKUP_BUCKET: optionalText,
    AWS_S3_PREFIX: z.string().default('datasync/'),
    AWS_REGION: z.string().default('us-east-1'),
    AWS_ENDPOINT_URL_S3: optionalUrl,
    AWS_S3_FORCE_PATH_STYLE: bool(false),

    // Timetable
    SCHEDULE_TZ: timeZone,
    SCHEDULE_SALES_SYNC: schedule('0 2 * * *'),
    SCHEDULE_HEALTH_CHECK: schedule('0 * * * *'),
    SCHEDULE_BACKUP: schedule('0 3 * * *'),
    SCHEDULE_BACKUP_CLEANUP: schedule('0 4 * * 0'),
    SCHEDULE_VERIFY_BACKUP: schedule('0 5 1 * *'),

    // Alerts
    SLACK_WEBHOOK: optionalUrl,
    ALERT_EMAIL: optionalText.pipe(z.email().optional()),
    SMTP_URL: optionalUrl,
    ALERT_FROM: z.string().default('datasync@localhost'),
    ALERT_COOLDOWN_MINUTES: int(60, 0),

    // Logging (the old script wrote LOG_LEVEL=INFO)
    LOG_LEVEL: z
      .string()
      .default('info')
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace', 'silent']))
      .transform((v) => (v === 'warning' ? 'warn' : v)),
    LOG_FILE: optionalText,
    LOG_FORMAT: z
      .enum(['auto', 'pretty', 'json', ''])
      .optional()
      .transform((v) => (v === undefined || v === '' ? 'auto' : v))
      .describe('stdout: pretty lines on a terminal (auto), or always pretty/json; LOG_FILE is always JSON'),

    // Health checks and the timetable's watch
    SCHEDULE_GRACE_MINUTES: int(30, 1).describe('a scheduled run this late without starting alerts'),
    HEALTH_MAX_SYNC_AGE_HOURS: int(26, 1).describe('last good sales sync older: warn; twice: fail'),
    HEALTH_MAX_BACKUP_AGE_HOURS: int(26, 1).describe('newest backup older: warn; twice as old: fail'),
    HEALTH_MIN_DISK_FREE_PERCENT: int(10, 0, 100).describe('less free: warn; under half of it: fail'),

    // Real-time stream source (a Redis Stream the sync-worker consumes with a consumer group)
    SALES_STREAM_KEY: optionalText.describe('the Redis Stream producers XADD sales to; unset: no stream'),
    SALES_STREAM_GROUP: z.string().trim().min(1).default('datasync'),
    SALES_STREAM_CONSUMER: optionalText.describe("this worker's consumer name; default the host name"),
    SALES_STREAM_READ_COUNT: int(1_000, 1, 100_000).describe('entries read, and committed, per group'),
    SALES_STREAM_BLOCK_MS: int(2_000, 10, 60_000).describe('XREADGROUP waits this long for new entries'),
    SALES_STREAM_MAX_DELIVERIES: int(5, 1, 1_000).describe('an entry delivered more often is dead-lettered'),
    SALES_STREAM_CLAIM_IDLE_MS: int(30_000, 100).describe('pending this long at another consumer: claimed'),
    SALES_STREAM_TRIM: bool(true).describe('XTRIM MINID: drop entries every group has acknowledged'),
    HEALTH_MAX_STREAM_LAG_SECONDS: int(300, 1).describe('oldest uncommitted entry older: warn; twice: fail'),

    // Directory sign-in (LDAP / Active Directory); off while LDAP_SERVER is unset
    LDAP_SERVER: optionalUrl
      .refine((v) => v === undefined || /^ldaps?:\/\//i.test(v), 'must be an ldap:// or ldaps:// URL')
      .describe('the directory; unset: directory sign-in is off'),
    LDAP_USER: optionalText.describe('DN of the service account that searches for users'),
    LDAP_PASSWORD: optionalText.describe("the service account's password"),
    LDAP_BASE_DN: optionalText.describe('where users are searched (subtree)'),
    LDAP_USER_FILTER: optionalText
      .refine((v) => v === undefined || v.includes('{{username}}'), 'must contain {{username}}')
      .describe('the user search filter; default DEFAULT_LDAP_USER_FILTER'),
    LDAP_OPERATOR_GROUP: optionalText.describe('DN of the group whose members (nested too) get operator'),
    LDAP_TLS_CA: optionalText.describe('PEM file of the CA that signed the directory certificate'),
    LDAP_STARTTLS: bool(false).describe('ldap:// URLs: upgrade the connection with StartTLS first'),
    LDAP_TIMEOUT_MS: int(5_000, 100, 120_000).describe('a directory that does not answer this fast: 503'),
    LOGIN_MAX_FAILURES: int(5, 1, 1_000).describe('failed sign-ins per user name before a lockout'),
    LOGIN_LOCKOUT_MINUTES: int(15, 1, 1_440).describe('failures are counted, and a lockout lasts, this long'),
    // Legacy SQL database source (PostgreSQL); SALES_DB_URL holds the credentials: never logged
    SALES_DB_URL: optionalText
      .refine((v) => v === undefined || sqlSourceUrl(v), SQL_URL_MESSAGE)
      .describe('postgres:// or mysql://user:password@host:port/database'),
    SALES_DB_TABLE: optionalText
      .refine((v) => v === undefined || SQL_TABLE_NAME.test(v), 'must be a table name: name or schema.name')
      .describe('the table sales are pulled from (or SALES_DB_QUERY)'),
    SALES_DB_QUERY: optionalText.describe('a SELECT whose rows are the sales (instead of SALES_DB_TABLE)'),
    SALES_DB_CURSOR: z
      .string()
      .trim()
      .default('updated_at')
      .refine((v) => SQL_COLUMN_NAME.test(v), 'must be a column name')
      .describe('the watermark column: a timestamp or an increasing number'),
    SALES_DB_KEY: z
      .string()
      .trim()
      .default('id')
      .refine((v) => SQL_COLUMN_NAME.test(v), 'must be a column name')
      .describe("each row's unique key, stored as the sale's id"),
    SALES_DB_PAGE_ROWS: int(10_000, 1, 1_000_000).describe('rows read, and committed, per page'),
    SALES_DB_LOOKBACK: int(0, 0).describe(
      'each run re-reads this far behind the watermark (s, or cursor units)',
    ),
    SCHEDULE_SALES_SYNC_SOURCE: z
      .enum(['api', 'sql', ''])
      .optional()
      .transform((v) => (v === undefined || v === '' ? 'api' : v))
      .describe('what the SCHEDULE_SALES_SYNC run pulls: the upstream API or the SQL database'),
  })
  .refine((c) => !c.ANALYTICS_SNAPSHOT_PATH || !sameFile(c.ANALYTICS_SNAPSHOT_PATH, c.DATABASE_PATH), {
    path: ['ANALYTICS_SNAPSHOT_PATH'],
    message: 'must not be DATABASE_PATH: the snapshot is a copy that other tools read beside it',
  })
  .refine((c) => !c.LDAP_SERVER || (c.LDAP_BASE_DN && c.LDAP_OPERATOR_GROUP), {
    path: ['LDAP_BASE_DN'],
    message: 'LDAP_SERVER is set: LDAP_BASE_DN and LDAP_OPERATOR_GROUP are needed too',
  })
  .refine((c) => !c.LDAP_USER || c.LDAP_PASSWORD, {
    // An LDAP bind with a DN and an empty password is an anonymous bind that "succeeds".
    path: ['LDAP_PASSWORD'],
    message: 'LDAP_USER is set: its password is needed too (an empty one would bind anonymously)',
  })
  .refine((c) => !c.LDAP_STARTTLS || !c.LDAP_SERVER || /^ldap:\/\//i.test(c.LDAP_SERVER), {
    path: ['LDAP_STARTTLS'],
    message: 'StartTLS is for ldap:// URLs; an ldaps:// URL is TLS already',
  })
  .refine((c) => !(c.SALES_DB_TABLE && c.SALES_DB_QUERY), {
    path: ['SALES_DB_QUERY'],
    message: 'set SALES_DB_TABLE or SALES_DB_QUERY, not both',
  })
  .refine((c) => c.HTTP_IDLE_TIMEOUT_MS > c.WAIT_TIMEOUT_MS, {
    // A ?wait=true request is silent while it waits: the idle timeout would cut it.
    path: ['HTTP_IDLE_TIMEOUT_MS'],
    message: 'must be longer than WAIT_TIMEOUT_MS (a ?wait=true request is silent while it waits)',
  });
export type EnvConfig = z.output<typeof EnvConfig>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses an environment; throws ConfigError whose message names each bad variable. */
export function parseEnvConfig(env: Record<string, string | undefined>): EnvConfig {
  const result = EnvConfig.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(env[name]);
    return `  ${name}=${shown}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** Variables whose values never reach a log line or an error message. */
export const SECRET_VARIABLES = new Set([
  'API_KEYS',
  'SALES_API_KEY',
  'SMTP_URL',
  'SLACK_WEBHOOK',
  'METRICS_TOKEN',
  'REDIS_URL',
  'LDAP_PASSWORD',
  'SALES_DB_URL',
]);

export const ENV_VARIABLES = Object.keys(EnvConfig.shape) as (keyof EnvConfig)[];
