import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  findUserImport,
  findUsers,
  insertUsers,
  listUsers,
  recordUserImport,
  updateUsers,
} from '../src/index.js';
import { makeWriter } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir('datasync-db-users-');
  const w = makeWriter(join(dir.path, 'test.duckdb'), `test:lock:${randomUUID()}`);
  cleanups.push(dir.cleanup, w.close);
  return w;
}

const user = (name: string, role = 'user') => ({
  username: name,
  email: `${name}@example.com`,
  role,
  passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$fake$${name}`,
});

describe('users storage', () => {
  it('creates users that must change their password, finds them by username or email, and updates them', async () => {
    const { writer } = setup();
    await writer.transaction((tx) => insertUsers(tx, [user('alice'), user('bob', 'admin')], 'job-1'));
    const found = await writer.read((conn) => findUsers(conn, ['alice'], ['bob@example.com', 'nobody@x.io']));
    expect(found.map((u) => u.username).sort()).toEqual(['alice', 'bob']);
    expect(found[0]).toMatchObject({ createdByJob: 'job-1', updatedByJob: null });

    await writer.transaction((tx) =>
      updateUsers(tx, [{ ...user('alice', 'manager'), email: 'alice@new.example' }], 'job-2'),
    );
    const users = await writer.read((conn) => listUsers(conn));
    expect(users).toEqual([
      {
        username: 'alice',
        email: 'alice@new.example',
        role: 'manager',
        mustChangePassword: true,
        createdByJob: 'job-1',
        updatedByJob: 'job-2',
      },
      {
        username: 'bob',
        email: 'bob@example.com',
        role: 'admin',
        mustChangePassword: true,
        createdByJob: 'job-1',
        updatedByJob: null,
      },
    ]);
  });

  it('records an import once with its quarantined rows, and returns its stored result', async () => {
    const { writer } = setup();
    expect(await writer.read((conn) => findUserImport(conn, 'job-9'))).toBeNull();
    const result = JSON.stringify({ counts: { created: 1 } });
    await writer.transaction((tx) =>
      recordUserImport(tx, {
        importId: 'job-9',
        batchId: '9',
        fileSha256: 'abc',
        updateExisting: false,
        counts: { created: 1, updated: 0, exists: 0, rejected: 1 },
        resultJson: result,
        source: 'user-import',
        rejects: [
          {
            line: 3,
            raw: JSON.stringify({ username: 'x', initial_password: '[redacted]' }),
            reasons: [{ index: 3, path: 'username', message: 'too short' }],
          },
        ],
      }),
    );
    expect(await writer.read((conn) => findUserImport(conn, 'job-9'))).toBe(result);
    const rejects = await writer.read(async (conn) =>
      (await conn.runAndReadAll(`SELECT * FROM rejects WHERE kind = 'user'`)).getRowObjects(),
    );
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ source: 'user-import', batch_id: '9', row_number: 3 });
    expect(JSON.parse(String(rejects[0]?.raw)).initial_password).toBe('[redacted]');
  });
});
