import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasync, datasyncOnPty, STACK_PROCESSES, type Stack, startStack } from './stack.js';
import { keyValues } from './tour-expectations.js';

/**
 * The `datasync` CLI's success paths against a stack started as `npm start` starts it, on a
 * pseudo-terminal (util-linux `script`) as a person's terminal is: its logs are readable lines,
 * the CLI's progress bar shows, and ^C stops it all. The upstream sales API is a real HTTP server
 * on loopback.
 */

const UPSTREAM_KEY = 'upstream-e2e-key';
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal colour codes is the point
const plain = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
const today = new Date().toISOString().slice(0, 10);
const upstreamRequests: { url: string; authorization: string | undefined }[] = [];
const upstream = createServer((req, res) => {
  upstreamRequests.push({ url: req.url ?? '', authorization: req.headers.authorization });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      data: [
        {
          id: 'UP-1',
          date: today,
          user_id: 7,
          product_name: 'Tablet',
          quantity: 1,
          unit_price: 300,
          total_amount: 300,
          region: 'EU',
        },
        {
          id: 'UP-2',
          date: today,
          user_id: 8,
          product_name: 'Pen',
          quantity: 10,
          unit_price: '1.50',
          total_amount: '15.00',
          region: 'APAC',
        },
        {
          id: 'UP-3',
          date: today,
          user_id: 9,
          product_name: 'Lamp',
          quantity: 0,
          unit_price: 20,
          total_amount: 0,
          region: 'EU',
        },
      ],
    }),
  );
});

let stack: Stack;
let upstreamHost = '';
const ids: { csvJob?: string; backup?: string } = {};

beforeAll(async () => {
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  stack = await startStack({
    pty: true,
    env: { SALES_API_URL: `http://${upstreamHost}/sales`, SALES_API_KEY: UPSTREAM_KEY },
  });
}, 300_000);

afterAll(async () => {
  await stack?.cleanup();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

async function salesCount(): Promise<number> {
  const res = await fetch(`${stack.base}/v1/sales/summary?groupBy=region`, {
    headers: { authorization: `Bearer ${stack.keys.operator}` },
  });
  return ((await res.json()) as { totals: { count: number } }).totals.count;
}

describe('`npm start` in a terminal', () => {
  it('prints the apps’ logs as readable lines, not JSON', () => {
    const lines = plain(stack.output()).split('\n');
    const appLines = lines.filter((l) => /^(api|sync-worker|backup-worker|scheduler)\s*\| /.test(l));
    expect(appLines.filter((l) => /\| \{"level"/.test(l))).toEqual([]);
    const started = appLines.find((l) => l.includes('sync-worker started'));
    expect(started, stack.output().slice(-3000)).toMatch(
      /^sync-worker\s+\| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: sync-worker started \{.*"queues":\["ingest"/,
    );
    expect(appLines.some((l) => /^api\s+\| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: api listening/.test(l))).toBe(
      true,
    );
  });
});

describe('the datasync CLI against the running stack', () => {
  it('sync-sales --csv on a terminal: a progress bar, then the import summary; exit 0', async () => {
    const run = await datasyncOnPty(stack, ['sync-sales', '--csv', 'scripts/examples/sales.csv']);
    const seen = plain(run.stdout);
    expect(run.code, seen).toBe(0);
    expect(seen).toMatch(/sales-sync \[[\u2588\u2591]+\] \d+% \| (waiting|active|completed) \| \d+s/);
    expect(seen).toMatch(/sales-sync \[\u2588+\] 100% \| completed/);
    expect(seen).toMatch(/^sales-sync completed \(job (\S+)\)$/m);
    expect(keyValues(seen)).toMatchObject({ received: '5', accepted: '4', rejected: '1', duplicates: '0' });
    ids.csvJob = seen.match(/^sales-sync completed \(job (\S+)\)$/m)?.[1];
    expect(await salesCount()).toBe(4);
    // The summary's hint, followed as a person would: the quarantined row with its reason.
    const hint = seen.match(/^rejected rows: GET (\/v1\/rejects\?importId=\S+)$/m)?.[1];
    expect(hint, seen).toBeDefined();
    const res = await fetch(`${stack.base}${hint}`, {
      headers: { authorization: `Bearer ${stack.keys.operator}` },
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    const rejects = JSON.parse(body) as {
      total: number;
      items: { raw: string; reasons: { message: string }[] }[];
    };
    expect(rejects.total, body).toBe(1);
    expect(rejects.items[0]!.raw, body).toContain('CSV-4');
    expect(rejects.items[0]!.reasons.map((r) => r.message).join('; '), body).toMatch(/total_amount/);
  });

  it('sync-sales --api pulls the upstream API (key sent, bad record quarantined); exit 0', async () => {
    const run = await datasync(stack, ['sync-sales', '--api', '--days', '2']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^sales-sync completed \(job \S+\)$/m);
    expect(keyValues(run.stdout)).toMatchObject({
      received: '3',
      accepted: '2',
      rejected: '1',
      source: `upstream:${upstreamHost}`,
      pages: '1',
    });
    expect(run.stdout).toMatch(/^rejected rows: GET \/v1\/rejects\?batchId=\S+$/m);
    expect(upstreamRequests.length).toBeGreaterThan(0);
    expect(upstreamRequests.every((r) => r.authorization === `Bearer ${UPSTREAM_KEY}`)).toBe(true);
    expect(upstreamRequests[0]!.url).toMatch(/^\/sales\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d$/);
    expect(await salesCount()).toBe(6);
  });

  it("GET /v1/rejects (the tour's command) lists the CSV's and the upstream's quarantined rows", async () => {
    const res = await fetch(`${stack.base}/v1/rejects?limit=10`, {
      headers: { authorization: `Bearer ${stack.keys.operator}` },
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    const rejects = JSON.parse(body) as { total: number; items: { raw: string }[] };
    expect(rejects.total, body).toBe(2);
    expect(rejects.items.map((r) => r.raw).join('\n'), body).toMatch(/CSV-4[\s\S]*UP-3|UP-3[\s\S]*CSV-4/);
  });

  it('import-users with every row valid: created, summary, exit 0', async () => {
    const file = join(stack.dir, 'users.csv');
    writeFileSync(
      file,
      'username,email,role,initial_password\nalice,alice@example.com,admin,Correct-Horse-1\nbob,bob@example.com,user,Battery-Staple-2\n',
    );
    const run = await datasync(stack, ['import-users', file]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^user-import completed \(job \S+\)$/m);
    expect(keyValues(run.stdout)).toMatchObject({ rows: '2', created: '2', rejected: '0' });
    expect(run.stdout).toMatch(/^2\s+alice\s+created$/m);
    expect(run.stdout).not.toMatch(/Correct-Horse/);
  });

  it("import-users with bad rows: exit 2, and GET /v1/rejects lists them beside the sales'", async () => {
    const run = await datasync(stack, ['import-users', 'scripts/examples/users.csv']);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(keyValues(run.stdout)).toMatchObject({ rows: '4', created: '2', rejected: '2' });
    const res = await fetch(`${stack.base}/v1/rejects?limit=10`, {
      headers: { authorization: `Bearer ${stack.keys.operator}` },
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect((JSON.parse(body) as { total: number }).total, body).toBe(4);
  });

  it('backup, then backups lists it verified with its checksum; exit 0', async () => {
    const backup = await datasync(stack, ['backup']);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^backup completed \(job \S+\)$/m);
    expect(backup.stdout).toMatch(/^ {4}state\s+verified$/m);
    expect(backup.stdout).toMatch(/^ {4}sales\s+6$/m);
    ids.backup = backup.stdout.match(/^ {2}name\s+(backup-\S+)$/m)?.[1];
    const sha = backup.stdout.match(/^ {2}sha256\s+([0-9a-f]{64})$/m)?.[1];
    expect(ids.backup).toBeDefined();
    const list = await datasync(stack, ['backups']);
    expect(list.code, list.stdout + list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      new RegExp(
        `^${ids.backup}\\s+\\S+Z\\s+[\\d.]+ \\w+\\s+verified\\s+local\\s+${sha?.slice(0, 12)}\\.\\.\\.$`,
        'm',
      ),
    );
  });

  it('--help on any command prints its usage and does nothing; a stray argument is refused', async () => {
    const before = (await datasync(stack, ['backups', '--json'])).stdout;
    for (const args of [
      ['backup', '--help'],
      ['restore', '-h'],
      ['verify-backup', '--help'],
      ['health-check', '--help'],
    ]) {
      const help = await datasync(stack, args);
      expect(help.code, help.stdout + help.stderr).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: datasync ${args[0]}\\b`, 'm'));
    }
    const stray = await datasync(stack, ['backup', 'now']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/^datasync backup: .*now/m);
    // No backup was taken by any of them.
    expect((await datasync(stack, ['backups', '--json'])).stdout).toBe(before);
  });

  it('restore NAME brings the database back to the backup: a later batch is gone; exit 0', async () => {
    const res = await fetch(`${stack.base}/v1/sales/batches?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.ingest}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          date: today,
          user_id: 1,
          product_name: 'After backup',
          quantity: 1,
          unit_price: 5,
          total_amount: 5,
          region: 'EU',
        },
      ]),
    });
    expect(await res.json()).toMatchObject({ committed: true });
    expect(await salesCount()).toBe(7);
    const run = await datasync(stack, ['restore', ids.backup!]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^restore completed \(job \S+\)$/m);
    expect(run.stdout).toContain(ids.backup);
    expect(await salesCount()).toBe(6);
  });

  it('verify-backup checks the newest backup; exit 0', async () => {
    const run = await datasync(stack, ['verify-backup']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^verify-backup completed \(job \S+\)$/m);
    expect(keyValues(run.stdout)).toMatchObject({ ok: 'true' });
    expect(run.stdout).toMatch(/^ {2}sales\s+6$/m);
  });

  it('cleanup-backups keeps a fresh backup; exit 0', async () => {
    const run = await datasync(stack, ['cleanup-backups']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^backup-cleanup completed \(job \S+\)$/m);
    const list = await datasync(stack, ['backups']);
    expect(list.stdout).toContain(ids.backup);
  });

  it('schedules shows the timetable with next runs; exit 0', async () => {
    const run = await datasync(stack, ['schedules']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    for (const id of ['sales-sync', 'health-check', 'backup', 'backup-cleanup', 'verify-backup'])
      expect(run.stdout).toMatch(
        new RegExp(`^${id}\\s+.*UTC\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s`, 'm'),
      );
  });

  it('jobs ID shows a finished job with its result; exit 0', async () => {
    const run = await datasync(stack, ['jobs', ids.csvJob!]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(keyValues(run.stdout)).toMatchObject({
      id: ids.csvJob,
      type: 'sales-sync',
      state: 'completed',
      progress: '100',
    });
    expect(run.stdout).toMatch(/^ {2}accepted\s+4$/m);
  });
});

describe('Ctrl-C in the terminal', () => {
  it('stops every process of the stack and its Redis, and says so', async () => {
    const stopped = await stack.stop();
    const output = plain(stack.output());
    expect(stopped, output.slice(-3000)).toMatchObject({ code: 0, survivors: [], redisAnswers: false });
    for (const p of STACK_PROCESSES)
      expect(
        stopped.processes.some((x) => p.test(x)),
        String(p),
      ).toBe(true);
    expect(output).toMatch(/\[datasync\] stopping \(SIGINT\)/);
    expect(output).toMatch(/^sync-worker\s+\| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: stopped/m);
    expect(output).toMatch(/\[datasync\] stopped$/m);
  });
});
