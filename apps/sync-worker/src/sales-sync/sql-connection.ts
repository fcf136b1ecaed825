import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * One connection to the legacy SQL database, PostgreSQL (`pg`) or MySQL/MariaDB (`mysql2`), behind
 * the little the SQL source needs: queries written with `$n` placeholders (rewritten to `?` for
 * MySQL, repeated ones included), identifier and literal quoting, and a cast to text. Both run
 * their session in UTC and hand dates and timestamps over as the server's text, never as a JS
 * Date (which would shift them by the local zone and drop microseconds).
 */
export interface SourceConnection {
  readonly dialect: 'postgres' | 'mysql';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  ident(name: string): string;
  literal(value: string): string;
  /** The expression as text, exactly as the server prints it. */
  text(expr: string): string;
  /** SQL giving the value `lookBack` behind `$1` (a cursor's text), or null for a type without one. */
  lookBackSql(cursorText: string, cursorType: string | null): string | null;
  /** A query giving the cursor column's type name (`t`), or null when the dialect decides by the value. */
  cursorTypeSql(column: string, from: string): string | null;
  close(): Promise<void>;
}

export type SourceDialect = SourceConnection['dialect'];

export function dialectOf(url: string): SourceDialect | null {
  const protocol = new URL(url).protocol;
  if (protocol === 'postgres:' || protocol === 'postgresql:') return 'postgres';
  if (protocol === 'mysql:' || protocol === 'mariadb:') return 'mysql';
  return null;
}

/** The application name the source's connections carry (visible in pg_stat_activity). */
export const SOURCE_APPLICATION_NAME = 'datasync-sales-sync';

/** DATE, TIMESTAMP and TIMESTAMPTZ as the server's text. */
const PG_TEXT_TYPES = new Set([1082, 1114, 1184]);
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    PG_TEXT_TYPES.has(oid)
      ? (v: string) => v
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A page query (or the count check) unanswered this long fails the run, to be retried: a hung source never holds the job forever. */
export const SOURCE_QUERY_TIMEOUT_MS = 300_000;

const NUMBER_TYPES = ['bigint', 'integer', 'smallint', 'numeric', 'real', 'double precision'];

export async function openSourceConnection(
  url: string,
  onLost: (error: Error) => void,
): Promise<SourceConnection> {
  const dialect = dialectOf(url);
  if (dialect === 'mysql') return openMysql(url, onLost);
  const client = new pg.Client({
    connectionString: url,
    application_name: SOURCE_APPLICATION_NAME,
    connectionTimeoutMillis: 10_000,
    query_timeout: SOURCE_QUERY_TIMEOUT_MS,
    statement_timeout: SOURCE_QUERY_TIMEOUT_MS,
    options: '-c TimeZone=UTC -c DateStyle=ISO',
    types: pgTypes,
  });
  // A connection dropped between queries is reported here; the next query then fails with it.
  client.on('error', onLost);
  await client.connect();
  return {
    dialect: 'postgres',
    query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
    ident: (name) =>
      name
        .split('.')
        .map((part) => `"${part.replaceAll('"', '""')}"`)
        .join('.'),
    literal: (value) => client.escapeLiteral(value),
    text: (expr) => `${expr}::text`,
    cursorTypeSql: (column, from) =>
      `SELECT pg_typeof(${column})::text AS t FROM ${from} WHERE ${column} IS NOT NULL LIMIT 1`,
    lookBackSql: (_value, type) => {
      if (type === 'timestamp with time zone' || type === 'timestamp without time zone') {
        const cast = type === 'timestamp with time zone' ? 'timestamptz' : 'timestamp';
        return `SELECT ($1::${cast} - $2::float8 * interval '1 second')::text AS v`;
      }
      if (type === 'date') return 'SELECT ($1::date - $2::int)::text AS v';
      if (type !== null && NUMBER_TYPES.includes(type))
        return 'SELECT ($1::numeric - $2::numeric)::text AS v';
      return null;
    },
    close: () => client.end().catch(() => undefined),
  };
}

async function openMysql(url: string, onLost: (error: Error) => void): Promise<SourceConnection> {
  const parsed = new URL(url);
  const connection = await mysql.createConnection({
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)),
    connectTimeout: 10_000,
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectAttributes: { program_name: SOURCE_APPLICATION_NAME },
  });
  connection.on('error', onLost);
  // TIMESTAMP columns are shown in the session's zone: UTC, as PostgreSQL's.
  await connection.query("SET time_zone = '+00:00'");
  return {
    dialect: 'mysql',
    query: async <T>(sql: string, params: unknown[] = []) => {
      const order: unknown[] = [];
      const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
        order.push(params[Number(n) - 1]);
        return '?';
      });
      const [rows] = await connection.query({ sql: text, timeout: SOURCE_QUERY_TIMEOUT_MS }, order);
      return rows as T[];
    },
    ident: (name) =>
      name
        .split('.')
        .map((part) => `\`${part.replaceAll('`', '``')}\``)
        .join('.'),
    literal: (value) => connection.escape(value),
    text: (expr) => `CAST(${expr} AS CHAR)`,
    cursorTypeSql: () => null,
    // Decided by the cursor's text: a datetime, a date, or a number.
    lookBackSql: (value) => {
      if (/^\d{4}-\d\d-\d\d[ T]\d\d:\d\d/.test(value))
        return 'SELECT CAST(CAST($1 AS DATETIME(6)) - INTERVAL $2 SECOND AS CHAR) AS v';
      if (/^\d{4}-\d\d-\d\d$/.test(value))
        return 'SELECT CAST(CAST($1 AS DATE) - INTERVAL $2 DAY AS CHAR) AS v';
      if (/^-?\d+(\.\d+)?$/.test(value)) return 'SELECT CAST($1 - $2 AS CHAR) AS v';
      return null;
    },
    close: () => connection.end().catch(() => undefined),
  };
}
