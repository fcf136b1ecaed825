import { afterEach, describe, expect, it, vi } from 'vitest';
import { printSalesSyncResult } from '../src/commands/sales.js';
import { printImportResult } from '../src/commands/users.js';

/** What `datasync sync-sales` and `datasync users import` print for a job's result. */

const printed = () => {
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  return () => out.join('');
};
afterEach(() => {
  vi.restoreAllMocks();
});

describe('the CLI summary of an import', () => {
  it('shows the warning of a header-only sales CSV', () => {
    const output = printed();
    printSalesSyncResult({
      source: 'csv',
      importId: 'imp-1',
      sha256: 'a'.repeat(64),
      received: 0,
      accepted: 0,
      rejected: 0,
      duplicates: 0,
      duplicateOf: null,
      chunks: 1,
      durationMs: 12,
      rowsPerSecond: 0,
      warnings: ['the file has a header row but no records: nothing was imported'],
    });
    expect(output()).toMatch(/^warning: the file has a header row but no records: nothing was imported$/m);
  });

  it('shows the warnings of a user import', () => {
    const output = printed();
    printImportResult(
      {
        jobId: 'job-1',
        updateExisting: false,
        rows: 0,
        counts: { created: 0, updated: 0, exists: 0, rejected: 0 },
        report: [],
        durationMs: 5,
        finishedAt: new Date().toISOString(),
        warnings: ['the file has a header row but no rows: nothing was imported'],
      },
      'job-1',
    );
    expect(output()).toMatch(/^warning: the file has a header row but no rows: nothing was imported$/m);
  });
});
