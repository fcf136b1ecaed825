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
