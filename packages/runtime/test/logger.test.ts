import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnNode, tempDir, waitFor } from '@datasync/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const RUNTIME = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;

describe('LOG_FILE', () => {
  it('a process logs the same JSON lines to stdout and to the file, secrets redacted', async () => {
    const dir = tempDir('datasync-logfile-');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'logs', 'worker.log');
    const script = join(dir.path, 'log.mjs');
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(RUNTIME)};
const logger = createLogger('sync-worker', { level: 'info', file: process.env.LOG_FILE });
logger.info({ jobId: 'j1', config: { SMTP_URL: 'smtp://u:hunter2@mail' }, password: 'hunter2' }, 'job finished');
logger.debug('not at info level');
logger.flush();
setTimeout(() => process.exit(0), 100);
`,
    );
    const child = spawnNode(script, { LOG_FILE: file });
    expect((await child.exited()).code).toBe(0);
    const stdout = child.output().trim().split('\n');
    const lines = await waitFor(() => {
      const text = readFileSync(file, 'utf8').trim();
      return text ? text.split('\n') : null;
    });
    expect(lines).toHaveLength(1);
    expect(lines).toEqual(stdout);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({
      name: 'sync-worker',
      jobId: 'j1',
      msg: 'job finished',
      password: '[redacted]',
    });
    expect(entry.config.SMTP_URL).toBe('[redacted]');
    expect(lines[0]).not.toMatch(/hunter2/);
  });
});

describe('log rotation with logrotate copytruncate', () => {
  it('after the file is copied and truncated in place, new lines start at the top, no hole of zeros', async () => {
    const dir = tempDir('datasync-logrotate-');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'api.log');
    const script = join(dir.path, 'log.mjs');
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(RUNTIME)};
const logger = createLogger('api', { level: 'info', file: process.env.LOG_FILE });
for (let i = 0; i < 50; i++) logger.info({ i }, 'before rotation');
logger.flush();
process.on('SIGUSR2', () => {
  logger.info('after rotation');
  logger.flush();
  setTimeout(() => process.exit(0), 100);
});
process.stdout.write('ready\\n');
setInterval(() => undefined, 1000);
`,
    );
    const child = spawnNode(script, { LOG_FILE: file });
    cleanups.push(() => child.kill('SIGKILL'));
    await child.waitForOutput(/ready/);
    await waitFor(() => readFileSync(file, 'utf8').split('\n').length > 50);
    // What logrotate's copytruncate does:
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    child.kill('SIGUSR2');
    expect((await child.exited()).code).toBe(0);
    const after = readFileSync(file);
    expect(after.includes(0)).toBe(false);
    const lines = after.toString('utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['after rotation']);
    expect(readFileSync(`${file}.1`, 'utf8').trim().split('\n')).toHaveLength(50);
  });
});

describe('LOG_FORMAT: readable lines for people, JSON for machines', () => {
  const script = (dir: string, format: string) => {
    const path = join(dir, 'log.mjs');
    writeFileSync(
      path,
      `import { createLogger } from ${JSON.stringify(RUNTIME)};
const logger = createLogger('api', { level: 'info', file: process.env.LOG_FILE, format: ${JSON.stringify(format)} });
logger.info({ jobId: 'j7', password: 'hunter2' }, 'job finished');
logger.flush();
setTimeout(() => process.exit(0), 100);
`,
    );
    return path;
  };

  it('pretty: one readable line on stdout, secrets redacted; LOG_FILE still gets JSON', async () => {
    const dir = tempDir('datasync-logpretty-');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'api.log');
    const child = spawnNode(script(dir.path, 'pretty'), { LOG_FILE: file });
    expect((await child.exited()).code).toBe(0);
    expect(child.output()).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: job finished \{"jobId":"j7","password":"\[redacted\]"\}\n$/,
    );
    const line = await waitFor(() => readFileSync(file, 'utf8').trim());
    expect(JSON.parse(line)).toMatchObject({ name: 'api', msg: 'job finished', password: '[redacted]' });
  });

  it('auto: JSON when stdout is a pipe, readable lines when it is a terminal (a pty)', async () => {
    const dir = tempDir('datasync-logauto-');
    cleanups.push(dir.cleanup);
    const path = script(dir.path, 'auto');
    const piped = spawnNode(path, {});
    expect((await piped.exited()).code).toBe(0);
    expect(JSON.parse(piped.output())).toMatchObject({ name: 'api', msg: 'job finished' });
    // util-linux `script` runs the process on a pseudo-terminal, as a person's terminal is.
    const onPty = spawnSync('script', ['-qefc', `${JSON.stringify(process.execPath)} ${path}`, '/dev/null'], {
      encoding: 'utf8',
    });
    expect(onPty.status).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal colour codes is the point
    const seen = onPty.stdout.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
    expect(seen).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: job finished \{"jobId":"j7","password":"\[redacted\]"\}$/m,
    );
    expect(seen).not.toContain('{"level"');
  });
});
