import { describe, expect, it } from 'vitest';
import { RejectsFilter, SalesAnalyticsQuery, SalesSummaryRequest } from '../src/index.js';

/**
 * The api parses a report's query string, then hands the parsed form to a worker as the job's
 * data, which the worker parses again: each schema must take its own output.
 */
describe('report queries survive the trip api -> job -> worker', () => {
  it.each([
    ['RejectsFilter', RejectsFilter, { newest: 'true', reason: 'date', limit: '5', offset: '10' }],
    ['SalesSummaryRequest', SalesSummaryRequest, { groupBy: 'region', from: '2026-01-01' }],
    [
      'SalesAnalyticsQuery',
      SalesAnalyticsQuery,
      { from: '2026-01-01', to: '2026-01-31', bucket: 'week', top: '5' },
    ],
  ] as const)('%s', (_name, schema, query) => {
    const inApi = (schema as typeof RejectsFilter).parse(query);
    const inWorker = (schema as typeof RejectsFilter).parse(JSON.parse(JSON.stringify(inApi)));
    expect(inWorker).toEqual(inApi);
  });
});

describe('the analytics period', () => {
  const issues = (q: Record<string, string>) =>
    SalesAnalyticsQuery.safeParse(q).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

  it('names only the bad date when one is not a date', () => {
    expect(issues({ from: '2026-13-01', to: '2026-12-31' })).toEqual(['from: Invalid ISO date']);
    expect(issues({ from: '2026-01-01', to: '2026-02-30' })).toEqual(['to: Invalid ISO date']);
  });

  it('refuses a period whose period before would fall before year 1000, naming from', () => {
    expect(issues({ from: '0000-01-01', to: '0000-01-01' })).toEqual([
      'from: from must be 1000-01-01 or later',
    ]);
    expect(issues({ from: '1000-01-01', to: '1009-12-31' })).toEqual([]);
  });

  it('still checks the order and the span of two good dates', () => {
    expect(issues({ from: '2026-02-01', to: '2026-01-01' })).toEqual(['from: from must not be after to']);
    expect(issues({ from: '2000-01-01', to: '2026-01-01' })).toEqual([
      'to: the period may span at most ten years',
    ]);
  });
});
