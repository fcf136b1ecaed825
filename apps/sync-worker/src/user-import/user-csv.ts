import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { type FieldError, USER_CSV_COLUMNS, USER_LIMITS, UserCsvRow } from '@datasync/schemas';
import { parse } from 'csv-parse';
import { incompleteTail } from '../sales-sync/csv-text.js';

/** The file cannot be imported at all (not CSV, header without the columns, too many rows). */
export class InvalidUserFileError extends Error {
  override readonly name = 'InvalidUserFileError';
}

/** A row that passed the rule set and is the first of its username and email in the file. */
export interface CandidateRow {
  line: number;
  user: UserCsvRow;
}

/** A row rejected before touching the database; `raw` is JSON with the password redacted. */
export interface RejectedRow {
  line: number;
  username: string;
  raw: string;
  reasons: FieldError[];
}

export interface ParsedUserFile {
  sha256: string;
  /** Data rows (blank lines not counted). */
  rows: number;
  candidates: CandidateRow[];
  rejected: RejectedRow[];
  /** What the user should know of a file that imported (it had no rows, bytes not UTF-8). */
  warnings: string[];
}

/**
 * A row longer than this fails the file, and no more of it is read (a user row is a few hundred
 * bytes: a 50 MB cell would be held whole, and stored in the rejects).
 */
export const USER_ROW_MAX_BYTES = 64 * 1024;

export const REDACTED = '[redacted]';

// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A cell shown in a report or a terminal: no control characters (escape sequences), bounded. */
export function displayCell(value: string | undefined): string {
  return (value ?? '').trim().replace(CONTROL, '\uFFFD').slice(0, 100);
}

interface Columns {
  index: Record<(typeof USER_CSV_COLUMNS)[number], number>;
  width: number;
}

function readHeader(record: string[]): Columns {
  const names = record.map((name) => name.trim().toLowerCase());
  const missing = USER_CSV_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new InvalidUserFileError(
      `the header row lacks ${missing.join(', ')}: expected the columns ${USER_CSV_COLUMNS.join(',')}`,
    );
  }
  const repeated = USER_CSV_COLUMNS.filter((c) => names.indexOf(c) !== names.lastIndexOf(c));
  if (repeated.length > 0) throw new InvalidUserFileError(`the header row repeats ${repeated.join(', ')}`);
  const index = Object.fromEntries(USER_CSV_COLUMNS.map((c) => [c, names.indexOf(c)]));
  return { index: index as Columns['index'], width: names.length };
}

/**
 * Reads a user import file and checks every row with the UserCsvRow rule set, rejecting repeats
 * of a username or email (compared case-folded) with the line of the first. The first occurrence
 * claims the name even if the row is rejected for another reason, so the outcome never depends on
 * which of two conflicting lines happens to be valid. Plaintext passwords stay in the returned
 * candidates only.
 */
export async function parseUserFile(path: string): Promise<ParsedUserFile> {
  const stat = await lstat(path).catch(() => null);
  if (!stat) throw new InvalidUserFileError('the uploaded file is gone');
  if (!stat.isFile()) throw new InvalidUserFileError('the import path is not a regular file');

  const hash = createHash('sha256');
  const input = createReadStream(path);
  // csv-parse decodes bytes that are not UTF-8 as U+FFFD, silently (a password would change):
  // once the file has such bytes, a cell holding U+FFFD is taken to be one of them.
  let carry = Buffer.alloc(0);
  let notUtf8 = false;
  input.on('data', (data: string | Buffer) => {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data);
    hash.update(chunk);
    if (notUtf8) return;
    const joined = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const tail = incompleteTail(joined);
    notUtf8 = !isUtf8(joined.subarray(0, joined.length - tail));
    carry = Buffer.from(joined.subarray(joined.length - tail));
  });
  input.on('end', () => {
    if (carry.length > 0) notUtf8 = true;
  });
  const parser = input.pipe(
    parse({
      bom: true,
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      max_record_size: USER_ROW_MAX_BYTES,
    }),
  );
  input.on('error', (error) => parser.destroy(error));

  const result: ParsedUserFile = { sha256: '', rows: 0, candidates: [], rejected: [], warnings: [] };
  let rowsNotUtf8 = 0;
  const usernames = new Map<string, number>();
  const emails = new Map<string, number>();
  let columns: Columns | null = null;
  let lastLine = 0;
  let lastEmpty = 0;
  let overcount = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number; empty_lines: number };
    }>) {
      // info.lines is where a record ends (quoted fields may span lines): find where it starts.
      // csv-parse 7 counts a CRLF inside a quoted field as two lines: take those back out.
      const line = lastLine + 1 + (info.empty_lines - lastEmpty);
      overcount += record.reduce((n, cell) => n + cell.split('\r\n').length - 1, 0);
      lastLine = info.lines - overcount;
      lastEmpty = info.empty_lines;
      if (columns === null) {
        columns = readHeader(record);
        continue;
      }
      if (record.every((cell) => cell.trim() === '')) continue;
      result.rows++;
      if (result.rows > USER_LIMITS.rowsMax) {
        throw new InvalidUserFileError(`the file has more than ${USER_LIMITS.rowsMax} rows: split it`);
      }
      if (notUtf8 && record.some((cell) => cell.includes('\uFFFD'))) {
        rowsNotUtf8++;
        rejectNotUtf8(record, line, columns, result);
        continue;
      }
      checkRow(record, line, columns, usernames, emails, result);
    }
  } catch (error) {
    if (error instanceof InvalidUserFileError) throw error;
    // csv-parse messages quote the offending value, which may be a password: keep code and line.
    const { code, lines } = error as { code?: string; lines?: number };
    if (code === 'CSV_MAX_RECORD_SIZE') {
      throw new InvalidUserFileError(
        `the row near line ${lines ?? '?'} is longer than ${USER_ROW_MAX_BYTES / 1024} KB: this is not a user file`,
      );
    }
    if (code) throw new InvalidUserFileError(`the file is not valid CSV (${code}) near line ${lines ?? '?'}`);
    throw new InvalidUserFileError(
      `the file cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (columns === null) throw new InvalidUserFileError('the file is empty: expected a header row');
  if (result.rows === 0) result.warnings.push('the file has a header row but no rows: nothing was imported');
  if (rowsNotUtf8 > 0) {
    result.warnings.push(
      `${rowsNotUtf8} row(s) hold bytes that are not UTF-8 and were rejected: save the file as CSV UTF-8`,
    );
  }
  result.sha256 = hash.digest('hex');
  return result;
}

/** A row with bytes that are not UTF-8: rejected naming each such field, nothing of it kept. */
function rejectNotUtf8(record: string[], line: number, columns: Columns, out: ParsedUserFile): void {
  const bad = USER_CSV_COLUMNS.filter((c) => record[columns.index[c]]?.includes('\uFFFD'));
  const reasons: FieldError[] = bad.map((path) => ({ path, message: `${path} must be valid UTF-8 text` }));
  if (reasons.length === 0) reasons.push({ path: '(row)', message: 'the row must be valid UTF-8 text' });
  const cell = (c: (typeof USER_CSV_COLUMNS)[number]) => record[columns.index[c]] ?? '';
  out.rejected.push({
    line,
    username: displayCell(cell('username')),
    raw: JSON.stringify({
      username: cell('username'),
      email: cell('email'),
      role: cell('role'),
      initial_password: REDACTED,
    }),
    reasons,
  });
}

function checkRow(
  record: string[],
  line: number,
  columns: Columns,
  usernames: Map<string, number>,
  emails: Map<string, number>,
  out: ParsedUserFile,
): void {
  if (record.length !== columns.width) {
    // A stray comma shifts cells: any of them may hold part of a password, so none is kept.
    out.rejected.push({
      line,
      username: '',
      raw: JSON.stringify({ fields: record.length, values: REDACTED }),
      reasons: [
        {
          path: '(row)',
          message: `expected ${columns.width} fields, found ${record.length}; no value of this row is kept`,
        },
      ],
    });
    return;
  }
  const { index } = columns;
  const cells = {
    username: record[index.username] ?? '',
    email: record[index.email] ?? '',
    role: record[index.role] ?? '',
    initial_password: record[index.initial_password] ?? '',
  };
  const parsed = UserCsvRow.safeParse(cells);
  const reasons: FieldError[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = String(issue.path[0] ?? '(row)');
      if (!reasons.some((r) => r.path === path)) reasons.push({ path, message: issue.message });
    }
  }
  const username = UserCsvRow.shape.username.safeParse(cells.username);
  const email = UserCsvRow.shape.email.safeParse(cells.email);
  if (username.success) {
    const first = usernames.get(username.data);
    if (first === undefined) usernames.set(username.data, line);
    else
      reasons.push({ path: 'username', message: `username repeats line ${first} (usernames ignore case)` });
  }
  if (email.success) {
    const first = emails.get(email.data);
    if (first === undefined) emails.set(email.data, line);
    else reasons.push({ path: 'email', message: `email repeats line ${first} (emails ignore case)` });
  }
  if (parsed.success && reasons.length === 0) {
    out.candidates.push({ line, user: parsed.data });
    return;
  }
  out.rejected.push({
    line,
    username: username.success ? username.data : displayCell(cells.username),
    raw: JSON.stringify({ ...cells, initial_password: REDACTED }),
    reasons,
  });
}
