import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promisedPattern, readmeTour } from './readme-tour.js';
import { ROOT } from './stack.js';
import { uncovered } from './tour-expectations.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe("reading the README's tour", () => {
  it('splits the sh blocks into whole commands, each with the output its comment promises', () => {
    const tour = readmeTour(README);
    const batch = tour.find((c) => c.text.includes('tour-batch-1'));
    // The multi-line curl with its quoted body is one command, the comment under it its promise.
    expect(batch?.text).toMatch(/^curl -s -X POST [\s\S]*"id":"A-1"[\s\S]*"id":"A-3"[\s\S]*'$/);
    expect(batch?.promised).toMatch(
      /^\{"batchId":"b_…"[\s\S]*"user_id must be 1 or more"\}\],"duplicates":0\}\n$/,
    );
    expect(tour.find((c) => c.text.startsWith('JOB=$('))?.text).toContain('| sed -E');
    expect(tour.map((c) => c.text)).toContain('export DATASYNC_API_KEY=$OPERATOR_KEY');
    // The block of keys the api prints is output, not commands; nothing outside the section counts.
    expect(tour.some((c) => /local-ingest\s+scopes=/.test(c.text) || c.text.startsWith('npm '))).toBe(false);
  });

  it('a command added to the README, or one changed, is named until the expectations follow', () => {
    const edited = README.replace(
      'datasync schedules                                     # the timetable with next runs',
      'datasync cleanup-backups --days 7\ndatasync timetable',
    );
    expect(uncovered(readmeTour(edited))).toEqual({
      commands: ['datasync cleanup-backups --days 7', 'datasync timetable'],
      expectations: ['datasync schedules'],
    });
    expect(uncovered(readmeTour(README))).toEqual({ commands: [], expectations: [] });
  });

  it("a promised output's … stands for anything, the rest must be there as written", () => {
    const pattern = promisedPattern('{…,"committed":true,\n   "duplicate":false}\n');
    expect('{"batchId":"b_1","committed":true,"duplicate":false}').toMatch(pattern);
    expect('{"batchId":"b_1","committed":false,"duplicate":false}').not.toMatch(pattern);
  });

  it('a README without the tour section fails clearly', () => {
    expect(() => readmeTour('# datasync\n\n## Something else\n')).toThrow(/no "## A 5-minute tour" section/);
  });
});
