import { commitUpstreamWindow, type DatabaseWriter, findUpstreamRun, watermarkOf } from '@datasync/db';
import {
  type EnvConfig,
  latestSaleDate,
  type Sale,
  type StoredReject,
  type SyncWindow,
  UPSTREAM_ZERO_SALES_WARNING,
  type UpstreamSyncResult,
  upstreamSource,
  validateSaleRecord,
} from '@datasync/schemas';
import type { Logger } from 'pino';
import { UpstreamClient, type UpstreamClientOptions, UpstreamError, windowUrl } from './upstream-client.js';

/**
 * The incremental pull (the old `sync-sales --api URL --days N`): the window runs from the
 * source's watermark, or `days` before today if that is earlier, to tomorrow (UTC: the latest date
 * a sale may carry). Every page is fetched and validated first; then one transaction replaces the
 * source's rows dated in the window and moves the watermark to the window's end. A failed pull
 * commits nothing and leaves the watermark where it was; a re-run replaces, never duplicates.
 * Records dated outside the window are quarantined: storing them could duplicate them later, as
 * the next run would not replace them.
 */

export interface UpstreamSyncDeps {
  writer: DatabaseWriter;
  logger: Logger;
  config: Pick<
    EnvConfig,
    'SALES_API_URL' | 'SALES_API_KEY' | 'SALES_API_TIMEOUT_MS' | 'SALES_API_MAX_RETRIES'
  >;
  /** Test hooks: shorter backoff and the like. */
  client?: Partial<UpstreamClientOptions>;
  now?: () => Date;
}

export interface UpstreamSyncJob {
  runId: string;
  url?: string | undefined;
  days: number;
  onProgress?: (percent: number) => unknown;
}

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function syncWindow(watermark: string | null, days: number, now: Date): SyncWindow {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const byDays = isoDay(today - days * DAY_MS);
  const from = watermark !== null && watermark < byDays ? watermark : byDays;
  return { from, to: latestSaleDate(now) };
}

export async function syncFromUpstream(
  deps: UpstreamSyncDeps,
  job: UpstreamSyncJob,
): Promise<UpstreamSyncResult> {
  const started = performance.now();
  const base = job.url ?? deps.config.SALES_API_URL;
  if (!base) throw new UpstreamError('no upstream URL: set SALES_API_URL or give the job a url', true);
  const source = upstreamSource(base);
  const earlier = await deps.writer.read((conn) => findUpstreamRun(conn, job.runId));
  if (earlier !== null) return earlier as UpstreamSyncResult;

  const now = deps.now?.() ?? new Date();
  const watermark = await deps.writer.read((conn) => watermarkOf(conn, source));
  const window = syncWindow(watermark, job.days, now);
  const log = deps.logger.child({ source, window });
  const client = new UpstreamClient({
    apiKey: keyFor(base, deps.config),
    timeoutMs: deps.config.SALES_API_TIMEOUT_MS,
    maxRetries: deps.config.SALES_API_MAX_RETRIES,
    logger: log,
    ...deps.client,
  });

  const sales: Sale[] = [];
  const rejects: StoredReject[] = [];
  const latest = latestSaleDate(now);
  let received = 0;
  let pages = 0;
  for await (const page of client.pages(windowUrl(base, window))) {
    pages = page.page;
    for (const raw of page.records) {
      const index = received++;
      const checked = validateSaleRecord(raw, latest);
      const reasons = checked.errors ?? outsideWindow(checked.sale, window);
      if (reasons.length === 0) sales.push(checked.sale!);
      else
        rejects.push({
          index,
          raw: JSON.stringify(raw) ?? 'null',
          reasons: reasons.map((r) => ({ index, ...r })),
        });
    }
    await job.onProgress?.(Math.min(90, pages * 5));
  }

  const warnings = received === 0 ? [UPSTREAM_ZERO_SALES_WARNING] : [];
  const { result, duplicate } = await deps.writer.transaction((tx) =>
    commitUpstreamWindow(tx, {
      runId: job.runId,
      source,
      window,
      pages,
      received,
      sales,
      rejects,
      describe: (replaced): UpstreamSyncResult => ({
        source: 'api',
        sourceName: source,
        runId: job.runId,
        pages,
        received,
        accepted: sales.length,
        rejected: rejects.length,
        window,
        watermark: window.to,
        replaced,
        warnings,
        durationMs: Math.round(performance.now() - started),
      }),
    }),
  );
  if (!duplicate && warnings.length > 0) log.warn({ runId: job.runId }, UPSTREAM_ZERO_SALES_WARNING);
  return result as UpstreamSyncResult;
}

/**
 * SALES_API_KEY goes only to SALES_API_URL's origin: a job naming another URL (the old
 * `sync-sales --api URL`) is sent without it, so a job cannot carry the key elsewhere.
 */
function keyFor(url: string, config: UpstreamSyncDeps['config']): string | undefined {
  if (!config.SALES_API_KEY || !config.SALES_API_URL) return undefined;
  return new URL(url).origin === new URL(config.SALES_API_URL).origin ? config.SALES_API_KEY : undefined;
}

function outsideWindow(sale: Sale | undefined, window: SyncWindow) {
  if (!sale || (sale.date >= window.from && sale.date <= window.to)) return [];
  return [{ path: 'date', message: `date is outside the requested window ${window.from}..${window.to}` }];
}
