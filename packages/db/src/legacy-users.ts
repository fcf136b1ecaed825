import { MIGRATION_SOURCE } from '@datasync/schemas';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type LegacyChunkCounts, recordLegacyChunk } from './legacy-sales.js';
import { type LegacyTable, legacyTableSql, quoteIdent } from './legacy-source.js';
import { appendUserRejects, type UserRejectRow } from './users.js';
import type { WriteContext } from './writer.js';

/** An old user row: its rowid and every old column as text (the password column included). */
export interface LegacyUserRow {
  k: number;
  cells: Record<string, string | null>;
}

/** Every row of the old users table, in rowid order (a users table is small: 10,000 rows is 1 MB). */
export async function readLegacyUsers(conn: DuckDBConnection, t: LegacyTable): Promise<LegacyUserRow[]> {
  const columns = t.oldColumns.map((c) => `CAST(o.${quoteIdent(c)} AS VARCHAR) AS ${quoteIdent(c)}`);
  const reader = await conn.runAndReadAll(
    `SELECT o.rowid AS __k, ${columns.join(', ')} FROM ${legacyTableSql(t)} o ORDER BY o.rowid`,
  );
  return reader.getRowObjects().map((row) => {
    const cells: Record<string, string | null> = {};
    for (const c of t.oldColumns) cells[c] = row[c] === null ? null : String(row[c]);
    return { k: Number(row.__k), cells };
  });
}

/** A migrated user: a kept argon2/bcrypt hash, or '' (no password) with must_change_password. */
export interface MigratedUser {
  username: string;
  email: string;
  role: string;
  passwordHash: string;
  mustChangePassword: boolean;
}

/** The usernames and emails already stored (case-folded, as every import stores them). */
export async function existingUserKeys(
  conn: DuckDBConnection,
): Promise<{ usernames: Set<string>; emails: Set<string> }> {
  const reader = await conn.runAndReadAll('SELECT username, email FROM users');
  const usernames = new Set<string>();
  const emails = new Set<string>();
  for (const row of reader.getRowObjects()) {
    usernames.add(String(row.username));
    emails.add(String(row.email));
  }
  return { usernames, emails };
}

/**
 * The old users in one transaction with their ledger row: new users appended, rejected rows
 * (raw already redacted by the caller) quarantined under the migration's batch id.
 */
export async function commitMigratedUsers(
  tx: WriteContext,
  input: {
    migrationId: string;
    batchId: string;
    users: readonly MigratedUser[];
    rejects: readonly UserRejectRow[];
    counts: LegacyChunkCounts;
  },
): Promise<void> {
  const { conn } = tx;
  const now = new Date().toISOString();
  if (input.users.length > 0) {
    const appender = await conn.createAppender('users');
    for (const u of input.users) {
      appender.appendVarchar(u.username);
      appender.appendVarchar(u.email);
      appender.appendVarchar(u.role);
      appender.appendVarchar(u.passwordHash);
      appender.appendBoolean(u.mustChangePassword);
      appender.appendVarchar(now);
      appender.appendVarchar(now);
      appender.appendVarchar(input.migrationId);
      appender.appendNull();
      appender.endRow();
    }
    appender.flushSync();
    appender.closeSync();
  }
  await appendUserRejects(conn, MIGRATION_SOURCE, input.batchId, input.rejects, now);
  await recordLegacyChunk(tx, input.migrationId, 'users', 0, input.counts);
}
