import {
  Problem,
  QUEUES,
  REPORT_JOBS,
  type RejectEntry,
  RejectsFilter,
  RejectsPage,
  SalesAnalytics,
  SalesAnalyticsQuery,
  SalesSummary,
  SalesSummaryRequest,
} from '@datasync/schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { requestFromWorker } from '../report-request.js';

const ERRORS = { 400: Problem, 401: Problem, 403: Problem, 500: Problem, 503: Problem, 504: Problem };

/**
 * `GET /v1/sales/summary`, `GET /v1/sales/analytics` and `GET /v1/rejects`: reads answered by a
 * sync-worker (the api never opens DuckDB), which runs them beside ingest on a read connection of
 * its own.
 */
export const reportsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const analyticsCache = new Map<string, { version: number; answer: Promise<SalesAnalytics> }>();
  app.get(
    '/v1/sales/summary',
    {
      schema: {
        summary: 'Sales totals by day, region or product',
        description:
          'Count, units and revenue (sum of total_amount, an exact decimal as text) per group, over sales dated from..to (inclusive; either may be left out), with the totals. At most 10,000 groups.',
        tags: ['reports'],
        security: [{ bearer: [] }],
        querystring: SalesSummaryRequest,
        response: { 200: SalesSummary, ...ERRORS },
      },
    },
    async (request) =>
      requestFromWorker<SalesSummary>(deps, QUEUES.reports, REPORT_JOBS.salesSummary, request.query),
  );

  app.get(
    '/v1/sales/analytics',
    {
      schema: {
        summary: 'Sales analytics over a period, as the dashboard shows them',
        description:
          'For sales dated from..to (inclusive) and the optional region, product and source filters: revenue, orders, units and average order against the period of the same length just before; a series by day, ISO week (from Monday) or month with the empty buckets; revenue by region; the top N products; and per source the last commit the figures include. Exact decimals as text; the same totals as /v1/sales/summary.',
        tags: ['reports'],
        security: [{ bearer: [] }],
        querystring: SalesAnalyticsQuery,
        response: { 200: SalesAnalytics, ...ERRORS },
      },
    },
    async (request) => {
      // Fifty open dashboards with the same filters cost the worker one query per commit, not
      // fifty: an answer is shared until the next commit event (only while this api reads them).
      if (!deps.live.watching)
        return requestFromWorker<SalesAnalytics>(
          deps,
          QUEUES.reports,
          REPORT_JOBS.salesAnalytics,
          request.query,
        );
      const key = JSON.stringify(request.query);
      const kept = analyticsCache.get(key);
      if (kept && kept.version === deps.live.version) return kept.answer;
      const version = deps.live.version;
      const answer = requestFromWorker<SalesAnalytics>(
        deps,
        QUEUES.reports,
        REPORT_JOBS.salesAnalytics,
        request.query,
      );
      analyticsCache.set(key, { version, answer });
      answer.catch(() => analyticsCache.delete(key));
      if (analyticsCache.size > 500) analyticsCache.delete(analyticsCache.keys().next().value!);
      return answer;
    },
  );

  app.get(
    '/v1/rejects',
    {
      schema: {
        summary: 'Quarantined records',
        description:
          'Records that failed validation, with their raw form, source, batch (an ingest batch id, a CSV import id or an upstream run id), row number and reasons; oldest first. Filter by batchId, importId (the rejects of one CSV import) or source; page with limit and offset.',
        tags: ['reports'],
        security: [{ bearer: [] }],
        querystring: RejectsFilter,
        response: { 200: RejectsPage, ...ERRORS },
      },
    },
    async (request) => {
      const page = await requestFromWorker<RejectsPage>(
        deps,
        QUEUES.reports,
        REPORT_JOBS.rejects,
        request.query,
      );
      return { ...page, items: page.items.map(withReasonIndexes) };
    },
  );
};

/**
 * Every reject lists, whatever wrote it: rows stored before all writers gave each reason an
 * `index` (user imports wrote none, a CSV file check a `line`) get the record's row number.
 */
export function withReasonIndexes(item: RejectEntry): RejectEntry {
  const raw: unknown = item.reasons;
  const reasons = Array.isArray(raw) ? raw : [{ path: '', message: String(raw) }];
  return {
    ...item,
    reasons: reasons.map((reason: Partial<Record<'index' | 'line' | 'path' | 'message', unknown>>) => ({
      index: Number.isInteger(reason.index)
        ? (reason.index as number)
        : Number.isInteger(reason.line)
          ? (reason.line as number)
          : item.rowNumber,
      path: typeof reason.path === 'string' ? reason.path : '',
      message: typeof reason.message === 'string' ? reason.message : JSON.stringify(reason),
    })),
  };
}
