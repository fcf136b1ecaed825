/**
 * A user import file with every kind of bad row, the report it must produce, and every password
 * (and password fragment) in it, for the scans that prove none of them leaks. Run it after
 * `SEED_CSV` so `oscar` exists and `peggy@example.com` belongs to someone.
 */

export const SEED_CSV =
  'username,email,role,initial_password\noscar,oscar@example.com,user,Seed-oscar-Pw01\npeggy,peggy@example.com,user,Seed-peggy-Pw02\n';
export const SEED_PASSWORDS = ['Seed-oscar-Pw01', 'Seed-peggy-Pw02'];

const long = 'l'.repeat(65);

// CRLF line ends, a BOM and a header in another case and order than usual.
export const BAD_ROWS_CSV = `\uFEFF${[
  'Username,EMAIL,Initial_Password,Role', // 1
  'Alice,Alice@Example.COM,Sekret-alice-01,user', // 2 created, case-folded
  'bob,bob@example.com,"Sekret,bob,02",MANAGER', // 3 created: commas inside a quoted password
  'ALICE,alice2@example.com,Sekret-alice-03,user', // 4 duplicate username of line 2
  'carol,ALICE@example.com,Sekret-carol-04,user', // 5 duplicate email of line 2
  'dave,not-an-email,Sekret-dave-05,user', // 6 bad email
  'erin,erin@example.com,Sekret-erin-06,superuser', // 7 bad role
  'frank,frank@example.com,Sh0rt-7,user', // 8 password too short
  'x,x@example.com,Sekret-x-08,user', // 9 username too short
  '=SUM(A1),sum@example.com,Sekret-sum-09,user', // 10 formula as username: not allowed characters
  "-1abc,+1@example.com,=cmd|' /C calc'!A0,admin", // 11 created: formula-looking values are plain data
  '\u212Aelvin,kelvin@example.com,Sekret-kelvin-11,user', // 12 KELVIN SIGN would fold to "k"
  'grace,grace@example.com,user', // 13 three fields
  'heidi,heidi@example.com,Frag-heidi-12,Frag-0013x,user', // 14 five fields: an unquoted comma
  '', // 15 blank
  '"ivan",ivan@example.com,"Sekret-ivan', // 16 created: the password spans two lines
  '-14",user', // 17
  `${long},long@example.com,Sekret-long-15,user`, // 18 username too long
  'mallory,mallory@example.com,,user', // 19 empty password
  'Oscar,oscar2@example.com,Sekret-oscar-16,admin', // 20 exists (left alone)
  'trent,Peggy@Example.com,Sekret-trent-17,user', // 21 email of another stored user
  'judy,judy@example.com,Sekret-judy-18,Admin', // 22 created
].join('\r\n')}\r\n`;

export const BAD_ROWS_PASSWORDS = [
  'Sekret-alice-01',
  'Sekret,bob,02',
  'Sekret-alice-03',
  'Sekret-carol-04',
  'Sekret-dave-05',
  'Sekret-erin-06',
  'Sh0rt-7',
  'Sekret-x-08',
  'Sekret-sum-09',
  "=cmd|' /C calc'!A0",
  'Sekret-kelvin-11',
  'Frag-heidi-12',
  'Frag-0013x',
  'Sekret-ivan\r\n-14',
  'Sekret-ivan',
  'Sekret-long-15',
  'Sekret-oscar-16',
  'Sekret-trent-17',
  'Sekret-judy-18',
];

/** Valid rows' passwords, by username, as stored hashes must verify. */
export const CREATED_PASSWORDS: Record<string, string> = {
  alice: 'Sekret-alice-01',
  bob: 'Sekret,bob,02',
  '-1abc': "=cmd|' /C calc'!A0",
  ivan: 'Sekret-ivan\r\n-14',
  judy: 'Sekret-judy-18',
};

export const BAD_ROWS_REPORT = [
  { line: 2, username: 'alice', status: 'created', reason: null },
  { line: 3, username: 'bob', status: 'created', reason: null },
  {
    line: 4,
    username: 'alice',
    status: 'rejected',
    reason: 'username repeats line 2 (usernames ignore case)',
  },
  {
    line: 5,
    username: 'carol',
    status: 'rejected',
    reason: 'email repeats line 2 (emails ignore case)',
  },
  { line: 6, username: 'dave', status: 'rejected', reason: 'email must be a valid address' },
  { line: 7, username: 'erin', status: 'rejected', reason: 'role must be one of user, manager, admin' },
  {
    line: 8,
    username: 'frank',
    status: 'rejected',
    reason: 'initial_password must be at least 8 characters',
  },
  { line: 9, username: 'x', status: 'rejected', reason: 'username must be 3 to 64 characters' },
  {
    line: 10,
    username: '=SUM(A1)',
    status: 'rejected',
    reason: "username may contain only a-z, 0-9, '.', '_' and '-'",
  },
  { line: 11, username: '-1abc', status: 'created', reason: null },
  { line: 12, username: '\u212Aelvin', status: 'rejected', reason: 'username must be plain ASCII' },
  {
    line: 13,
    username: '',
    status: 'rejected',
    reason: 'expected 4 fields, found 3; no value of this row is kept',
  },
  {
    line: 14,
    username: '',
    status: 'rejected',
    reason: 'expected 4 fields, found 5; no value of this row is kept',
  },
  { line: 16, username: 'ivan', status: 'created', reason: null },
  { line: 18, username: long, status: 'rejected', reason: 'username must be 3 to 64 characters' },
  {
    line: 19,
    username: 'mallory',
    status: 'rejected',
    reason: 'initial_password must be at least 8 characters',
  },
  { line: 20, username: 'oscar', status: 'exists', reason: 'already exists; left unchanged' },
  { line: 21, username: 'trent', status: 'rejected', reason: 'email already belongs to user peggy' },
  { line: 22, username: 'judy', status: 'created', reason: null },
];

export const BAD_ROWS_COUNTS = { created: 5, updated: 0, exists: 1, rejected: 13 };

/** A file of n valid users. */
export function usersCsv(n: number, prefix = 'user'): { csv: string; passwords: string[] } {
  const passwords = Array.from({ length: n }, (_, i) => `Pw-${prefix}-${i}-${(i * 7919) % 10007}-x`);
  const lines = passwords.map((pw, i) => `${prefix}-${i},${prefix}-${i}@example.com,user,${pw}`);
  return { csv: `username,email,role,initial_password\n${lines.join('\n')}\n`, passwords };
}
