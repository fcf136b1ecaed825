import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidUserFileError, parseUserFile } from '../src/user-import/user-csv.js';

/** The user file reader against the faults the sales CSV met: line ends, a huge cell, bytes, a header only. */

const HEADER = 'username,email,role,initial_password';
const user = (i: number) => `user${i},user${i}@example.com,user,Passw0rd-long-${i}`;
const dirs: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of dirs.splice(0)) cleanup();
});

function parse(content: string | Buffer) {
  const dir = tempDir('datasync-user-csv-');
  dirs.push(dir.cleanup);
  const path = join(dir.path, 'users.csv');
  writeFileSync(path, content);
  return parseUserFile(path);
}

describe('the user file reader', () => {
  it('reads mixed line ends (CRLF header, LF, CRLF and CR rows) with exact lines', async () => {
    const file = await parse(`${HEADER}\r\n${user(1)}\n${user(2)}\r\n${user(3)}\r${user(4)}\n`);
    expect(file.rows).toBe(4);
    expect(file.candidates.map((c) => [c.line, c.user.username, c.user.initial_password])).toEqual([
      [2, 'user1', 'Passw0rd-long-1'],
      [3, 'user2', 'Passw0rd-long-2'],
      [4, 'user3', 'Passw0rd-long-3'],
      [5, 'user4', 'Passw0rd-long-4'],
    ]);
  });

  it('a row with bytes that are not UTF-8 is rejected naming the field, never imported with U+FFFD in it', async () => {
    const file = await parse(
      Buffer.concat([
        Buffer.from(`${HEADER}\n${user(1)}\n`),
        Buffer.from('user2,user2@example.com,user,Pass\xe9word-long\n', 'latin1'),
        Buffer.from('us\xe9r3,user3@example.com,user,Passw0rd-long-3\n', 'latin1'),
        Buffer.from(`${user(4)}\n`),
      ]),
    );
    expect(file.rows).toBe(4);
    expect(file.candidates.map((c) => c.user.username)).toEqual(['user1', 'user4']);
    expect(file.rejected.map((r) => [r.line, r.reasons])).toEqual([
      [3, [{ path: 'initial_password', message: 'initial_password must be valid UTF-8 text' }]],
      [4, [{ path: 'username', message: 'username must be valid UTF-8 text' }]],
    ]);
    expect(file.rejected.every((r) => JSON.parse(r.raw).initial_password === '[redacted]')).toBe(true);
    expect(file.warnings).toEqual([
      '2 row(s) hold bytes that are not UTF-8 and were rejected: save the file as CSV UTF-8',
    ]);
  });

  it('a row with a 50 MB cell fails the file naming its line, without holding the cell', async () => {
    const huge = `${HEADER}\n${user(1)}\nuser2,user2@example.com,${'x'.repeat(50 << 20)},pw\n${user(3)}\n`;
    const failed = parse(huge);
    await expect(failed).rejects.toThrow(InvalidUserFileError);
    await expect(failed).rejects.toThrow('the row near line 3 is longer than 64 KB: this is not a user file');
  });

  it('a header-only file reads as no rows, with a warning', async () => {
    const file = await parse(`\ufeff${HEADER}`);
    expect(file).toMatchObject({ rows: 0, candidates: [], rejected: [] });
    expect(file.warnings).toEqual(['the file has a header row but no rows: nothing was imported']);
  });
});
