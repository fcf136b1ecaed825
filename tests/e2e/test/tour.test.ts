import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promisedPattern, readmeTour, type TourCommand } from './readme-tour.js';
import { runCommand, STACK_PROCESSES, type Stack, startStack } from './stack.js';
import { TOUR_EXPECTATIONS, type TourContext, type TourRun, uncovered } from './tour-expectations.js';

/**
 * README.md's "A 5-minute tour", run as written against a stack started as `npm start` starts it:
 * every `sh` command in order in one bash (the exports and the alias carry over, as in the
 * reader's second terminal), with only the generated keys and the port put in. Each command's
 * output is checked against the expectation keyed by a piece of it (tour-expectations.ts) and
 * against the README's own `# ...` comment under it.
 */
const tour = readmeTour();

/** The README's "send exactly the same request again": the first batch once more, headers shown. */
const REPLAY_OF = 'tour-batch-1';

let stack: Stack;
const runs = new Map<TourCommand, TourRun>();
let replay: TourRun | undefined;
const context: TourContext = {} as TourContext;

function substitute(text: string, s: Stack): string {
  const replaced = text
    .replaceAll('localhost:3000', `localhost:${s.port}`)
    .replace(/\bINGEST_KEY=ds_\.\.\./, `INGEST_KEY=${s.keys.ingest}`)
    .replace(/\bOPERATOR_KEY=ds_\.\.\./, `OPERATOR_KEY=${s.keys.operator}`);
  return replaced;
}

const marker = (kind: 'start' | 'end', i: number) => `<<<tour-${kind}-${i}>>>`;

/** One bash script: each command between markers on both streams, its exit code after it. */
function tourScript(commands: string[]): string {
  const lines = ['shopt -s expand_aliases'];
  commands.forEach((command, i) => {
    lines.push(`echo '${marker('start', i)}'; echo '${marker('start', i)}' >&2`);
    lines.push(command);
    lines.push(`rc=$?; printf '\\n${marker('end', i)} rc=%d\\n' "$rc"; echo '${marker('end', i)}' >&2`);
  });
  return `${lines.join('\n')}\n`;
}

function split(output: string, i: number): string {
  const start = output.indexOf(`${marker('start', i)}\n`);
  const end = output.indexOf(marker('end', i), start);
  if (start === -1 || end === -1) return '';
  return output.slice(start + marker('start', i).length + 1, end).trim();
}

beforeAll(async () => {
  stack = await startStack({ logFile: true });
  context.stack = stack;
  const replayIndex = tour.findIndex((c) => c.text.includes(REPLAY_OF));
  expect(replayIndex, `no README tour command sends ${REPLAY_OF}`).toBeGreaterThanOrEqual(0);
  const texts = tour.map((c) => substitute(c.text, stack));
  // The replay: the same request with curl's -i, so the Idempotent-Replayed header shows.
  texts.splice(replayIndex + 1, 0, texts[replayIndex]!.replace('curl -s ', 'curl -s -i '));
  const result = await runCommand(
    'bash',
    [],
    { DATASYNC_URL: stack.base },
    { input: tourScript(texts), timeoutMs: 300_000 },
  );
  texts.forEach((_, i) => {
    const rc = result.stdout.match(new RegExp(`${marker('end', i)} rc=(\\d+)`))?.[1];
    const run: TourRun = {
      code: rc === undefined ? null : Number(rc),
      stdout: split(result.stdout, i),
      stderr: split(result.stderr, i),
    };
    if (i === replayIndex + 1) replay = run;
    else runs.set(tour[i > replayIndex ? i - 1 : i]!, run);
  });
}, 600_000);

afterAll(async () => {
  await stack?.cleanup();
});

describe("README.md's 5-minute tour, run as written against `npm start`", () => {
  it('every tour command has an expectation here, and every expectation a command', () => {
    const { commands, expectations } = uncovered(tour);
    expect(
      commands,
      'README tour commands with no (or more than one) expectation in tour-expectations.ts: add one',
    ).toEqual([]);
    expect(
      expectations,
      'expectations whose README command is gone or changed: edit tour-expectations.ts with the README',
    ).toEqual([]);
  });

  for (const command of tour) {
    const expectation = TOUR_EXPECTATIONS.find((e) => command.text.includes(e.key));
    it(`prints what the README says: ${command.text.split('\n')[0]}`, () => {
      const run = runs.get(command);
      if (!expectation) throw new Error(`no expectation for the README command:\n${command.text}`);
      if (!run) throw new Error(`the tour did not reach:\n${command.text}`);
      const where = `README command:\n${command.text}\nprinted (exit ${run.code}):\n${run.stdout}\n${run.stderr}`;
      if (command.promised) expect(run.stdout, where).toMatch(promisedPattern(command.promised));
      expectation.check(run, context, where);
      if (expectation.key === REPLAY_OF) {
        if (!replay) throw new Error('the replay did not run');
        expect(replay.stdout, 'the replay').toMatch(/^Idempotent-Replayed: true\r?$/im);
        expect(
          replay.stdout
            .split(/\r?\n\r?\n/)
            .at(-1)
            ?.trim(),
          'the replay answers the same',
        ).toBe(run.stdout);
      }
    });
  }

  it('Ctrl-C stops the stack cleanly: every process gone, Redis stopped, logs were JSON lines', async () => {
    const stopped = await stack.stop();
    const output = stack.output();
    expect(stopped, output.slice(-3000)).toMatchObject({ code: 0, survivors: [], redisAnswers: false });
    for (const p of STACK_PROCESSES)
      expect(
        stopped.processes.some((x) => p.test(x)),
        String(p),
      ).toBe(true);
    expect(output).toMatch(/\[datasync\]\S* stopping \(SIGINT\)/);
    // Each app stopped by its own shutdown (not killed): its last line says so.
    for (const app of ['api', 'sync-worker', 'backup-worker', 'scheduler'])
      expect(output).toMatch(new RegExp(`"name":"${app}","msg":"stopped"`));
    expect(output).toMatch(/\[datasync\]\S* stopped\n/);
    // Not a terminal: the apps' lines reach the supervisor's stdout as JSON, after its prefix.
    const appLines = output.split('\n').filter((l) => /\| \{/.test(l));
    expect(appLines.length).toBeGreaterThan(20);
    for (const line of appLines) expect(() => JSON.parse(line.slice(line.indexOf('| {') + 2))).not.toThrow();
    const fileLines = readFileSync(join(stack.dir, 'logs', 'datasync.log'), 'utf8')
      .trim()
      .split('\n');
    const names = new Set(fileLines.map((l) => (JSON.parse(l) as { name: string }).name));
    expect([...names].sort()).toEqual(['api', 'backup-worker', 'scheduler', 'sync-worker']);
  });
});
