import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import type { WriteContext } from './writer.js';

/**
 * Users and the user-import ledger. Usernames and emails are unique by set-based checks made by
 * the caller inside its write transaction (no UNIQUE constraints: see migrations.ts). A user
 * records the import job that created it and the last one that updated it, so a retried job can
 * tell its own earlier work from users that were there before it.
 */

/** What an import needs to know about a stored user; never the hash. */
export interface StoredUserRef {
  username: string;
  email: string;
  createdByJob: string | null;
  updatedByJob: string | null;
}

/** A user to write: password already hashed (PHC string). */
export interface UserWrite {
  username: string;
  email: string;
  role: string;
  passwordHash: string;
}

/** A rejected import row for the quarantine: `raw` is JSON with the password already redacted. */
export interface UserRejectRow {
  line: number;
  raw: string;
  reasons: { index: number; path: string; message: string }[];
}

export interface UserImportRecord {
  /** Unique per import job, stable across its retries. */
  importId: string;
  /** The batch id of the rejected rows (the job id operators know). */
  batchId: string;
  fileSha256: string;
  updateExisting: boolean;
  counts: { created: number; updated: number; exists: number; rejected: number };
  /** The job result as JSON (report rows, never passwords): a retry after commit returns it. */
  resultJson: string;
  rejects: readonly UserRejectRow[];
  source: string;
}

/** Stored users whose username or email is in the given (case-folded) lists. */
export async function findUsers(
  conn: DuckDBConnection,
  usernames: readonly string[],
  emails: readonly string[],
): Promise<StoredUserRef[]> {
  if (usernames.length === 0 && emails.length === 0) return [];
  const reader = await conn.runAndReadAll(
    `SELECT username, email, created_by_job, updated_by_job FROM users
     WHERE username IN (SELECT unnest($1::VARCHAR[])) OR email IN (SELECT unnest($2::VARCHAR[]))`,
    [listValue([...usernames]), listValue([...emails])],
  );
  return reader.getRowObjects().map((row) => ({
    username: String(row.username),
    email: String(row.email),
    createdByJob: row.created_by_job === null ? null : String(row.created_by_job),
    updatedByJob: row.updated_by_job === null ? null : String(row.updated_by_job),
  }));
}

/** Appends new users, each marked to change its password at first login. */
export async function insertUsers(
  tx: WriteContext,
  users: readonly UserWrite[],
  jobId: string,
): Promise<void> {
  if (users.length === 0) return;
  const now = new Date().toISOString();
  const appender = await tx.conn.createAppender('users');
  for (const u of users) {
    appender.appendVarchar(u.username);
    appender.appendVarchar(u.email);
    appender.appendVarchar(u.role);
    appender.appendVarchar(u.passwordHash);
    appender.appendBoolean(true);
    appender.appendVarchar(now);
    appender.appendVarchar(now);
    appender.appendVarchar(jobId);
    appender.appendNull();
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
}

/** Replaces email, role and password of existing users; the new password must be changed at login. */
export async function updateUsers(
  tx: WriteContext,
  users: readonly UserWrite[],
  jobId: string,
): Promise<void> {
  if (users.length === 0) return;
  const { conn } = tx;
  await conn.run(`
    CREATE TEMP TABLE IF NOT EXISTS staging_user_updates (
      username VARCHAR, email VARCHAR, role VARCHAR, password_hash VARCHAR);
    DELETE FROM staging_user_updates;`);
  const appender = await conn.createAppender('staging_user_updates', 'main', 'temp');
  for (const u of users) {
    appender.appendVarchar(u.username);
    appender.appendVarchar(u.email);
    appender.appendVarchar(u.role);
    appender.appendVarchar(u.passwordHash);
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
  await conn.run(
    `UPDATE users SET email = s.email, role = s.role, password_hash = s.password_hash,
       must_change_password = true, updated_at = $1::TIMESTAMPTZ, updated_by_job = $2
     FROM staging_user_updates s WHERE users.username = s.username`,
    [new Date().toISOString(), jobId],
  );
}

/** The stored result of a user-import job that already committed, or null. */
export async function findUserImport(conn: DuckDBConnection, importId: string): Promise<string | null> {
  const reader = await conn.runAndReadAll('SELECT result FROM user_imports WHERE job_id = $1', [importId]);
  const row = reader.getRowObjects()[0];
  return row ? String(row.result) : null;
}

/**
 * The last step of an import: its rejected rows (kind 'user') and its ledger record, in one
 * transaction, so a retry after this commit writes nothing twice.
 */
/** Quarantines user rows (kind `user`, by their line) in the caller's transaction. */
export async function appendUserRejects(
  conn: DuckDBConnection,
  source: string,
  batchId: string,
  rows: readonly UserRejectRow[],
  now: string,
): Promise<void> {
  if (rows.length === 0) return;
  const rejects = await conn.createAppender('rejects');
  for (const r of rows) {
    rejects.appendVarchar(source);
    rejects.appendVarchar(batchId);
    rejects.appendVarchar('user');
    rejects.appendInteger(r.line);
    rejects.appendVarchar(r.raw);
    rejects.appendVarchar(JSON.stringify(r.reasons));
    rejects.appendVarchar(now);
    rejects.endRow();
  }
  rejects.flushSync();
  rejects.closeSync();
}

export async function recordUserImport(tx: WriteContext, record: UserImportRecord): Promise<void> {
  const { conn, epoch } = tx;
  const now = new Date().toISOString();
  await appendUserRejects(conn, record.source, record.batchId, record.rejects, now);
  const { counts } = record;
  await conn.run(`INSERT INTO user_imports VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::TIMESTAMPTZ)`, [
    record.importId,
    record.fileSha256,
    record.updateExisting,
    counts.created,
    counts.updated,
    counts.exists,
    counts.rejected,
    record.resultJson,
    BigInt(epoch),
    now,
  ]);
}

/** Users as an operator sees them (never the hash): for checks and tests. */
export async function listUsers(conn: DuckDBConnection): Promise<
  {
    username: string;
    email: string;
    role: string;
    mustChangePassword: boolean;
    createdByJob: string | null;
    updatedByJob: string | null;
  }[]
> {
  const reader = await conn.runAndReadAll(
    `SELECT username, email, role, must_change_password, created_by_job, updated_by_job
     FROM users ORDER BY username`,
  );
  return reader.getRowObjects().map((row) => ({
    username: String(row.username),
    email: String(row.email),
    role: String(row.role),
    mustChangePassword: row.must_change_password === true,
    createdByJob: row.created_by_job === null ? null : String(row.created_by_job),
    updatedByJob: row.updated_by_job === null ? null : String(row.updated_by_job),
  }));
}
