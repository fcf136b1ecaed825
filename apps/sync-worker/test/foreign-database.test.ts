import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createOldScriptDatabase } from '@datasync/db';
import { isolatedRedisUrl, spawnNode, tempDir } from '@datasync/testkit';
import { afterEach, describe, expect, inject, it } from 'vitest';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('the sync-worker started on the old script database', () => {
  it('exits 78 naming the tables, the path and the migrate command, and leaves the file byte for byte unchanged', async () => {
    const dir = tempDir('datasync-foreign-sync-worker-');
    cleanups.push(dir.cleanup);
    const dbPath = join(dir.path, 'data', 'dashboard.duckdb');
    await import('node:fs').then((fs) => fs.mkdirSync(dirname(dbPath)));
    await createOldScriptDatabase(dbPath, { sales: 200, users: 4 });
    const before = sha(dbPath);
    const filesBefore = readdirSync(dirname(dbPath)).sort();

    const worker = spawnNode(MAIN, {
      REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
      DATABASE_PATH: dbPath,
      BACKUP_DIR: join(dir.path, 'backups'),
      LOG_LEVEL: 'info',
    });
    cleanups.push(() => worker.kill('SIGKILL'));
    const { code } = await worker.exited();

    expect(code).toBe(78);
    const out = worker.output();
    expect(out).toContain(`sync-worker: DATABASE_PATH ${dbPath} holds tables datasync did not create`);
    expect(out).toMatch(
      /^ {2}sales \(id, date, user_id, product_name, quantity, unit_price, total_amount, region, created_at\)/m,
    );
    expect(out).toMatch(/^ {2}users \(id, username, email, role, password_hash, created_at\)/m);
    const aside = join(dirname(dbPath), 'old.duckdb');
    expect(out).toContain(`mv ${dbPath} ${aside}`);
    expect(out).toContain(`datasync migrate --from ${aside}`);
    expect(out).not.toContain('sync-worker started');
    expect(sha(dbPath)).toBe(before);
    expect(readdirSync(dirname(dbPath)).sort()).toEqual(filesBefore);
  });
});
