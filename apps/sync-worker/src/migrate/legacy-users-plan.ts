import type {
  LegacyChunkCounts,
  LegacyTable,
  LegacyUserRow,
  MigratedUser,
  UserRejectRow,
} from '@datasync/db';
import { MigratedUserRow } from '@datasync/schemas';

/**
 * Which old users become users here: checked by the users rule set (username, email, role as an
 * import checks them); a password hash in a known format is kept, anything else (a plaintext
 * password, an unknown hash) is dropped and the user must set a password. No password, plaintext
 * or hash, ever reaches a reject, a log line or the report.
 */

const KNOWN_HASHES = [
  // argon2 PHC strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash; v= absent in old versions).
  /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/,
  // bcrypt: $2a$, $2b$ or $2y$, cost, 22 characters of salt and 31 of hash.
  /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/,
];

export function isKnownPasswordHash(value: string | null): value is string {
  return value !== null && KNOWN_HASHES.some((re) => re.test(value));
}

/** Columns whose values never leave the worker: the password column and anything that looks like one. */
const SECRET_COLUMN = /pass|secret|token|hash|salt/i;

export function redactedRaw(row: LegacyUserRow, t: LegacyTable): string {
  const out: Record<string, string | null> = {};
  for (const [column, value] of Object.entries(row.cells)) {
    const secret = column === t.columns.password_hash || SECRET_COLUMN.test(column);
    out[column] = secret && value !== null ? '[redacted]' : value;
  }
  return JSON.stringify(out);
}

export interface UsersPlan {
  users: MigratedUser[];
  rejects: UserRejectRow[];
  counts: LegacyChunkCounts;
}

export function planMigratedUsers(
  rows: readonly LegacyUserRow[],
  t: LegacyTable,
  stored: { usernames: Set<string>; emails: Set<string> },
): UsersPlan {
  const users: MigratedUser[] = [];
  const rejects: UserRejectRow[] = [];
  let existing = 0;
  const seenNames = new Set<string>();
  const seenEmails = new Set<string>();
  const cell = (row: LegacyUserRow, field: string) => {
    const column = t.columns[field];
    return column ? (row.cells[column] ?? null) : null;
  };
  const reject = (row: LegacyUserRow, reasons: { path: string; message: string }[]) =>
    rejects.push({
      line: row.k,
      raw: redactedRaw(row, t),
      reasons: reasons.map((r) => ({ index: row.k, ...r })),
    });
  for (const row of rows) {
    const parsed = MigratedUserRow.safeParse({
      username: cell(row, 'username') ?? '',
      email: cell(row, 'email') ?? '',
      role: cell(row, 'role') ?? '',
    });
    if (!parsed.success) {
      reject(
        row,
        parsed.error.issues.map((issue) => ({ path: String(issue.path[0] ?? ''), message: issue.message })),
      );
      continue;
    }
    const { username, email, role } = parsed.data;
    if (stored.usernames.has(username)) {
      existing++;
      continue;
    }
    if (seenNames.has(username)) {
      reject(row, [{ path: 'username', message: 'username repeats an earlier row of the old table' }]);
      continue;
    }
    if (stored.emails.has(email) || seenEmails.has(email)) {
      reject(row, [{ path: 'email', message: 'email belongs to another user' }]);
      continue;
    }
    seenNames.add(username);
    seenEmails.add(email);
    const password = cell(row, 'password_hash');
    const keep = isKnownPasswordHash(password);
    users.push({ username, email, role, passwordHash: keep ? password : '', mustChangePassword: !keep });
  }
  return {
    users,
    rejects,
    counts: { read: rows.length, stored: users.length, rejected: rejects.length, existing },
  };
}
