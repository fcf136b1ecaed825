import { z } from 'zod';

// Drill-down: from a figure to the sales rows behind it (GET /v1/sales/rows, the same filters as
// the analytics), and from a row to the batch, CSV file or upstream pull it came from
// (GET /v1/sales/batches/{batchId}).

const filterText = z.string().trim().min(1).max(200).optional();

export const SalesRowsQuery = z
  .object({
    from: z.iso.date().optional().describe('first day, inclusive (YYYY-MM-DD)'),
    to: z.iso.date().optional().describe('last day, inclusive (YYYY-MM-DD)'),
    region: filterText.describe('only this region'),
    product: filterText.describe('only this product name'),
    source: filterText.describe('only this source'),
    batchId: filterText.describe('only the rows of this batch, CSV import or upstream run'),
    limit: z.coerce.number().int().min(1).max(1_000).default(100),
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: 'from must not be after to',
    path: ['from'],
  });
export type SalesRowsQuery = z.output<typeof SalesRowsQuery>;

export const SaleRow = z.object({
  source: z.string(),
  externalId: z.string().nullable().describe('the id the upstream gave the sale, if any'),
  date: z.string(),
  userId: z.number().int(),
  productName: z.string(),
  quantity: z.number().int(),
  unitPrice: z.string().describe('exact decimal as text'),
  totalAmount: z.string().describe('exact decimal as text'),
  region: z.string(),
  batchId: z.string().describe('GET /v1/sales/batches/{batchId} tells where it came from'),
  ingestedAt: z.string().describe('when it was committed, ISO'),
});
export type SaleRow = z.infer<typeof SaleRow>;

export const SalesRowsPage = z.object({
  items: z.array(SaleRow).describe('newest sale date first'),
  total: z.number().int().describe('rows matching the filters'),
  limit: z.number().int(),
  offset: z.number().int(),
});
export type SalesRowsPage = z.infer<typeof SalesRowsPage>;

export const BatchIdParams = z.object({ batchId: z.string().trim().min(1).max(200) });

export const SalesBatchOrigin = z.object({
  batchId: z.string(),
  kind: z
    .string()
    .describe(
      'api-batch (a POSTed batch), csv (a CSV import: batchId is the import id), upstream (an upstream pull: the run id)',
    ),
  source: z.string(),
  received: z.number().int().describe('records received'),
  stored: z.number().int().describe('sales rows stored'),
  rejected: z.number().int().describe('records quarantined: GET /v1/rejects?batchId=...'),
  duplicates: z.number().int().nullable().describe('CSV rows skipped as already stored'),
  committedAt: z.string().nullable().describe('ISO; null while a CSV import is still running'),
  file: z
    .object({ name: z.string().nullable(), sha256: z.string(), bytes: z.number().int(), state: z.string() })
    .nullable()
    .describe('for a CSV import: the file it read'),
  window: z
    .object({ from: z.string(), to: z.string() })
    .nullable()
    .describe('for an upstream pull: the dates it replaced'),
});
export type SalesBatchOrigin = z.infer<typeof SalesBatchOrigin>;
