import { z } from 'zod';

// GET /v1/queues: how much work waits on each queue, for the dashboard's live ingest panel and
// anyone who wants it without scraping /metrics.

export const QueueDepth = z.object({
  queue: z.string(),
  waiting: z.number().int().describe('waiting and prioritized: ready for a worker'),
  active: z.number().int(),
  delayed: z.number().int().describe('retries waiting out their backoff, and scheduled runs'),
  failed: z.number().int().describe('kept 30 days'),
  paused: z.number().int(),
  workers: z.number().int().describe('worker connections listening on the queue'),
});
export type QueueDepth = z.infer<typeof QueueDepth>;

export const QueueDepths = z.object({ queues: z.array(QueueDepth), at: z.string().describe('ISO') });
export type QueueDepths = z.infer<typeof QueueDepths>;
