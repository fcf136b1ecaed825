import { randomUUID } from 'node:crypto';
import {
  commitSqlPage,
  type DatabaseWriter,
  type SqlCursor,
  sqlCursorOf,
  sqlStoredCountsByDay,
} from '@datasync/db';
import {
  type EnvConfig,
  latestSaleDate,
  type Sale,
  type SqlSyncResult,
  type StoredReject,
  validateSaleRecord,
} from '@datasync/schemas';
import type { Logger } from 'pino';
import { openSourceConnection, type SourceConnection } from './sql-connection.js';

/**
 * The legacy SQL database source (PostgreSQL): keyset pages over SALES_DB_TABLE or SALES_DB_QUERY,
 * ordered by (cursor, key). Each page's sales, its rejects and the advanced cursor commit in one
 * DuckDB transaction (`commitSqlPage`), so a pull that dies leaves every page wholly written or not
 * at all and the next run resumes at the last committed row. A run starts at `cursor >= watermark`
 * (minus SALES_DB_LOOKBACK) and skips the rows at the watermark it already committed (their keys
 * are kept with it, bounded); within a run pages continue after (cursor, key) of the last row read.
 * The cursor value is kept as the source's own text (`::text`, session time zone UTC), never as a
 * JS Date: no time zone shift, no lost microseconds.
 */

export type SqlSourceConfig = Pick<
  EnvConfig,
  | 'SALES_DB_URL'
  | 'SALES_DB_TABLE'
  | 'SALES_DB_QUERY'
  | 'SALES_DB_CURSOR'
  | 'SALES_DB_KEY'
  | 'SALES_DB_PAGE_ROWS'
  | 'SALES_DB_LOOKBACK'
>;

export interface SqlSyncDeps {
  writer: DatabaseWriter;
  logger: Logger;
  config: SqlSourceConfig;
  now?: () => Date;
}

export interface SqlSyncJob {
  runId: string;
  /** Called after each committed page. */
  onProgress?: (percent: number) => unknown;
}

/** Keys of rows at the watermark kept for the next run; beyond it they are read and upserted again. */
export const SQL_BOUNDARY_KEYS_MAX = 10_000;
/** Sale dates the end-of-run count check compares at most (the newest ones). */
export const SQL_COUNT_CHECK_DAYS_MAX = 1_000;

export class SqlSourceError extends Error {
  override readonly name = 'SqlSourceError';
  constructor(
    message: string,
    /** Retrying cannot help (wrong credentials, no such table or column). */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

// SQLSTATE classes and codes a retry cannot fix.
const PERMANENT_CODES = /^(28|3D|42)/;
// MySQL/MariaDB: access denied, unknown database, table or column, a query it cannot parse.
const PERMANENT_MYSQL = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_NO_SUCH_TABLE',
  'ER_BAD_FIELD_ERROR',
  'ER_PARSE_ERROR',
]);

/** The URL with its password replaced, for messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(SALES_DB_URL)';
  }
}

/** Removes the URL's password (as written and as decoded) from any text. */
export function redactSecret(text: string, url: string): string {
  let out = text.split(url).join(redactedUrl(url));
  try {
    const { password } = new URL(url);
    for (const secret of new Set([password, decodeURIComponent(password)])) {
      if (secret.length > 0) out = out.split(secret).join('***');
    }
  } catch {
    // not a URL: nothing more to find
  }
  return out;
}

export function sqlSourceName(config: SqlSourceConfig): string {
  const url = new URL(config.SALES_DB_URL!);
  return `sql:${url.host}${url.pathname}/${config.SALES_DB_TABLE ?? 'query'}`;
}

interface SqlQueries {
  firstPage(fromStart: boolean): string;
  nextPage: string;
  cursorType: string | null;
  countCheck(fromStart: boolean): string;
}

function queries(config: SqlSourceConfig, db: SourceConnection, watermarkLiteral?: string): SqlQueries {
  const src = config.SALES_DB_TABLE ? db.ident(config.SALES_DB_TABLE) : `(${config.SALES_DB_QUERY})`;
  const c = `s.${db.ident(config.SALES_DB_CURSOR)}`;
  const k = `s.${db.ident(config.SALES_DB_KEY)}`;
  // With a look-back, rows behind the stored watermark are read again: they must not move it back.
  const reached = watermarkLiteral ? `, (${c} >= ${watermarkLiteral}) AS __datasync_reached` : '';
  const select = `SELECT s.*, ${db.text(c)} AS __datasync_cursor, ${db.text(k)} AS __datasync_key${reached} FROM ${src} AS s`;
  const order = `ORDER BY ${c}, ${k} LIMIT ${config.SALES_DB_PAGE_ROWS}`;
  return {
    firstPage: (fromStart) =>
      `${select} WHERE ${c} IS NOT NULL AND ${k} IS NOT NULL${fromStart ? '' : ` AND ${c} >= $1`} ${order}`,
    // The row comparison is an index range on (cursor, key); an OR of the two filters every row before it.
    nextPage: `${select} WHERE ${c} IS NOT NULL AND ${k} IS NOT NULL AND ${c} >= $1 AND (${c}, ${k}) > ($1, $2) ${order}`,
    cursorType: db.cursorTypeSql(c, `${src} AS s`),
    countCheck: (fromStart) => `
      SELECT ${db.text('s.date')} AS day, count(*) AS n FROM ${src} AS s
      JOIN (SELECT DISTINCT w.date AS day FROM ${src} AS w
            WHERE w.${db.ident(config.SALES_DB_CURSOR)} <= $1${fromStart ? '' : ` AND w.${db.ident(config.SALES_DB_CURSOR)} >= $2`} AND w.date IS NOT NULL
            ORDER BY 1 DESC LIMIT ${SQL_COUNT_CHECK_DAYS_MAX}) AS d ON s.date = d.day
      WHERE ${c} <= $1 AND ${k} IS NOT NULL
      GROUP BY s.date`,
  };
}

interface PageOutcome {
  sales: Sale[];
  rejects: StoredReject[];
  /** Rows at the watermark the last run already committed: not written again. */
  skipped: number;
}

export async function syncFromSql(deps: SqlSyncDeps, job: SqlSyncJob): Promise<SqlSyncResult> {
  const { config } = deps;
  const url = config.SALES_DB_URL;
  if (!url) throw new SqlSourceError('no SQL source: set SALES_DB_URL', true);
  if (!config.SALES_DB_TABLE && !config.SALES_DB_QUERY)
    throw new SqlSourceError('no SQL source: set SALES_DB_TABLE or SALES_DB_QUERY', true);
  const started = performance.now();
  const source = sqlSourceName(config);
  const log = deps.logger.child({ source });
  let db: SourceConnection | undefined;
  try {
    db = await openSourceConnection(url, (error) =>
      log.warn({ err: redactSecret(error.message, url) }, 'SQL source connection lost'),
    );
    return await pull(deps, job, db, source, log, started);
  } catch (error) {
    throw sqlError(error, url);
  } finally {
    await db?.close();
  }
}

function sqlError(error: unknown, url: string): Error {
  if (error instanceof SqlSourceError)
    return new SqlSourceError(redactSecret(error.message, url), error.permanent);
  const e = error as Error & { code?: string };
  const permanent =
    typeof e.code === 'string' &&
    (PERMANENT_MYSQL.has(e.code) || (/^[0-9A-Z]{5}$/.test(e.code) && PERMANENT_CODES.test(e.code)));
  return new SqlSourceError(
    redactSecret(`the SQL source ${redactedUrl(url)} failed: ${e.message ?? String(error)}`, url),
    permanent,
  );
}

async function pull(
  deps: SqlSyncDeps,
  job: SqlSyncJob,
  db: SourceConnection,
  source: string,
  log: Logger,
  started: number,
): Promise<SqlSyncResult> {
  const { config } = deps;
  const q0 = queries(config, db);
  const latest = latestSaleDate(deps.now?.() ?? new Date());
  const stored = await deps.writer.read((conn) => sqlCursorOf(conn, source));
  let windowFrom = stored?.value ?? null;
  if (stored && config.SALES_DB_LOOKBACK > 0) windowFrom = await lookBack(db, q0, stored.value, config);
  const q = windowFrom !== (stored?.value ?? null) ? queries(config, db, db.literal(stored!.value)) : q0;

  let cursor: SqlCursor | null = stored;
  let last: { cursor: string; key: string } | null = null;
  let pages = 0;
  let received = 0;
  let accepted = 0;
  let rejected = 0;
  // The next page is read while this one commits (it depends only on this page's last row): two
  // pages in memory at most. A failed commit leaves the read unused.
  const read = (after: typeof last): Promise<Record<string, unknown>[]> => {
    const rows =
      after === null
        ? db.query(q.firstPage(windowFrom === null), windowFrom === null ? [] : [windowFrom])
        : db.query(q.nextPage, [after.cursor, after.key]);
    rows.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    return rows;
  };
  let pending: Promise<Record<string, unknown>[]> | null = read(null);
  while (pending) {
    const waitStarted = performance.now();
    const rows: Record<string, unknown>[] = await pending;
    if (rows.length === 0) break;
    const page = judgePage(rows, stored, received, latest);
    const tail = rows[rows.length - 1]!;
    last = { cursor: String(tail.__datasync_cursor), key: String(tail.__datasync_key) };
    pending = rows.length < config.SALES_DB_PAGE_ROWS ? null : read(last);
    const next = advance(cursor, rows);
    if (page.sales.length + page.rejects.length === 0) continue;
    pages++;
    const commitStarted = performance.now();
    const expected = cursor;
    await deps.writer.transaction((tx) =>
      commitSqlPage(tx, {
        source,
        runId: job.runId,
        batchId: `${job.runId}:${pages}:${randomUUID().slice(0, 8)}`,
        expected,
        next,
        received: page.sales.length + page.rejects.length,
        sales: page.sales,
        rejects: page.rejects,
      }),
    );
    received += page.sales.length + page.rejects.length;
    accepted += page.sales.length;
    rejected += page.rejects.length;
    cursor = next;
    log.debug(
      {
        page: pages,
        rows: rows.length,
        readWaitMs: Math.round(commitStarted - waitStarted),
        commitMs: Math.round(performance.now() - commitStarted),
      },
      'sql page committed',
    );
    await job.onProgress?.(Math.min(90, pages));
  }

  const countCheck = cursor
    ? await checkCounts(deps, db, q, source, windowFrom, cursor.value)
    : { days: 0, mismatches: [] };
  const warnings: string[] = [];
  if (countCheck.mismatches.length > 0) {
    warnings.push(
      `${countCheck.mismatches.length} day(s) hold a different number of rows here than at the source (countCheck.mismatches): rows committed late behind the cursor (raise SALES_DB_LOOKBACK), or deleted at the source`,
    );
  }
  const durationMs = Math.round(performance.now() - started);
  const result: SqlSyncResult = {
    source: 'sql',
    sourceName: source,
    runId: job.runId,
    pages,
    received,
    accepted,
    rejected,
    window: { from: windowFrom, to: cursor?.value ?? null },
    watermark: cursor?.value ?? null,
    countCheck,
    warnings,
    durationMs,
    rowsPerSecond: durationMs > 0 ? Math.round((received * 1000) / durationMs) : received,
  };
  if (warnings.length > 0) log.warn({ runId: job.runId, mismatches: countCheck.mismatches }, warnings[0]);
  return result;
}

async function lookBack(db: SourceConnection, q: SqlQueries, value: string, config: SqlSourceConfig) {
  const type = q.cursorType ? ((await db.query<{ t: string }>(q.cursorType))[0]?.t ?? null) : null;
  const sql = db.lookBackSql(value, type);
  if (sql === null) {
    throw new SqlSourceError(
      `SALES_DB_LOOKBACK needs a timestamp, date or number cursor; ${config.SALES_DB_CURSOR} is ${type ?? value}`,
      true,
    );
  }
  const start = await db.query<{ v: string }>(sql, [value, config.SALES_DB_LOOKBACK]);
  return String(start[0]!.v);
}

/** The page's rows as sales and rejects, minus those at the stored watermark already committed. */
function judgePage(
  rows: Record<string, unknown>[],
  stored: SqlCursor | null,
  offset: number,
  latest: string,
): PageOutcome {
  const done = stored ? new Set(stored.boundaryKeys) : new Set<string>();
  const sales: Sale[] = [];
  const rejects: StoredReject[] = [];
  let skipped = 0;
  for (const row of rows) {
    const key = String(row.__datasync_key);
    if (stored && row.__datasync_cursor === stored.value && done.has(key)) {
      skipped++;
      continue;
    }
    const { __datasync_cursor: _c, __datasync_key: _k, __datasync_reached: _r, ...columns } = row;
    const record = { ...columns, id: key };
    const checked = validateSaleRecord(record, latest);
    if (checked.errors) {
      const index = offset + sales.length + rejects.length;
      rejects.push({
        index,
        raw: JSON.stringify(record),
        reasons: checked.errors.map((r) => ({ index, ...r })),
      });
    } else sales.push(checked.sale!);
  }
  return { sales, rejects, skipped };
}

/** The cursor after a page: its last row's value, with the keys committed at that value. */
function advance(cursor: SqlCursor | null, rows: Record<string, unknown>[]): SqlCursor {
  const tail = rows[rows.length - 1]!;
  // Only with a look-back: PostgreSQL answers a boolean, MySQL 0 or 1.
  if (cursor && '__datasync_reached' in tail && !Number(tail.__datasync_reached)) return cursor;
  const value = String(rows[rows.length - 1]!.__datasync_cursor);
  const keys = cursor?.value === value ? [...cursor.boundaryKeys] : [];
  const known = new Set(keys);
  for (const row of rows) {
    const key = String(row.__datasync_key);
    if (row.__datasync_cursor === value && !known.has(key)) {
      known.add(key);
      keys.push(key);
    }
  }
  return { value, boundaryKeys: keys.slice(-SQL_BOUNDARY_KEYS_MAX) };
}

async function checkCounts(
  deps: SqlSyncDeps,
  db: SourceConnection,
  q: SqlQueries,
  source: string,
  from: string | null,
  to: string,
): Promise<SqlSyncResult['countCheck']> {
  const rows = await db.query<{ day: string; n: number | string }>(
    q.countCheck(from === null),
    from === null ? [to] : [to, from],
  );
  const counted = rows.map((r) => ({ day: String(r.day), n: Number(r.n) }));
  const days = counted.map((r) => r.day);
  const here = await deps.writer.read((conn) => sqlStoredCountsByDay(conn, source, days));
  const mismatches = counted
    .filter((r) => (here.get(r.day) ?? 0) !== r.n)
    .map((r) => ({ day: r.day, source: r.n, stored: here.get(r.day) ?? 0 }))
    .sort((a, b) => a.day.localeCompare(b.day));
  return { days: days.length, mismatches };
}
