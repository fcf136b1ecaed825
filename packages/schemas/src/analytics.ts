import { z } from 'zod';

// The dashboard's sales analytics (GET /v1/sales/analytics): one answer per page view, every
// figure over the same filters. Money is an exact decimal as text, never a float.

const filterText = z.string().trim().min(1).max(200).optional();

const calendarDay = z.iso.date();
const isDay = (value: unknown) => calendarDay.safeParse(value).success;
const bothDays = (q: { from: unknown; to: unknown }) => isDay(q.from) && isDay(q.to);

export const SalesAnalyticsQuery = z
  .object({
    from: z.iso.date().describe('first day, inclusive (YYYY-MM-DD)'),
    to: z.iso.date().describe('last day, inclusive (YYYY-MM-DD)'),
    bucket: z.enum(['day', 'week', 'month']).default('day').describe('weeks start on Monday (ISO)'),
    region: filterText.describe('only this region'),
    product: filterText.describe('only this product name'),
    source: filterText.describe('only this source (an ingest key name, csv, api)'),
    top: z.coerce.number().int().min(1).max(100).default(10).describe('how many top products'),
  })
  // Checked only once both dates are dates, so a bad one is named alone.
  .refine((q) => !bothDays(q) || q.from <= q.to, { message: 'from must not be after to', path: ['from'] })
  .refine((q) => !bothDays(q) || Date.parse(q.to) - Date.parse(q.from) <= 3_660 * 86_400_000, {
    message: 'the period may span at most ten years',
    path: ['to'],
  })
  // The period before it (as long, just before) must be a calendar date too.
  .refine((q) => !bothDays(q) || q.from >= '1000-01-01', {
    message: 'from must be 1000-01-01 or later',
    path: ['from'],
  });
export type SalesAnalyticsQuery = z.output<typeof SalesAnalyticsQuery>;

export const SalesFigures = z.object({
  revenue: z.string().describe('sum of total_amount, exact, 2 decimals'),
  orders: z.number().int().describe('sales records'),
  units: z.number().int().describe('sum of quantity'),
  averageOrder: z
    .string()
    .describe('revenue / orders, rounded half up to 2 decimals ("0.00" without orders)'),
});
export type SalesFigures = z.infer<typeof SalesFigures>;

export const SalesGroup = SalesFigures.omit({ averageOrder: true }).extend({ key: z.string() });
export type SalesGroup = z.infer<typeof SalesGroup>;

export const SalesAnalytics = z.object({
  from: z.string(),
  to: z.string(),
  bucket: z.enum(['day', 'week', 'month']),
  current: SalesFigures,
  previous: SalesFigures.extend({
    from: z.string().describe('the period of the same length just before'),
    to: z.string(),
  }),
  series: z
    .array(SalesGroup)
    .describe('per bucket, keyed by its first day (YYYY-MM-DD); empty buckets included'),
  byRegion: z.array(SalesGroup).describe('by revenue, highest first'),
  topProducts: z.array(SalesGroup).describe('the top N products by revenue'),
  freshness: z
    .array(z.object({ source: z.string(), lastCommit: z.string().describe('newest ingested_at, ISO') }))
    .describe('per source among the figures: the last commit they include'),
});
export type SalesAnalytics = z.infer<typeof SalesAnalytics>;
