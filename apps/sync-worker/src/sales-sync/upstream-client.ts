import { setTimeout as delay } from 'node:timers/promises';
import { type SyncWindow, UpstreamEnvelope } from '@datasync/schemas';
import type { Logger } from 'pino';

/**
 * The upstream sales API client: GET `SALES_API_URL?from=YYYY-MM-DD&to=YYYY-MM-DD` (the window's
 * first and last dates, inclusive, UTC) with `Authorization: Bearer SALES_API_KEY`, following
 * pagination until there is no next page. Each request has a timeout (headers and body); network
 * errors, timeouts, 5xx, 408, 429 and unreadable JSON (a truncated body) are retried with
 * exponential backoff and full jitter, a 429 or 503 waiting as long as its Retry-After asks. Other
 * 4xx fail at once. The key is sent only to the configured origin: a next link to another host
 * is refused.
 */

export interface UpstreamClientOptions {
  apiKey?: string | undefined;
  timeoutMs: number;
  maxRetries: number;
  /** First backoff step; each retry doubles it, up to maxDelayMs, and waits a random part of it. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The longest Retry-After honoured; a longer one fails the request. */
  maxRetryAfterMs?: number;
  maxPages?: number;
  logger?: Logger;
}

/** The upstream failed; `permanent` failures (4xx, unexpected format) are not worth retrying. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface UpstreamPage {
  page: number;
  records: unknown[];
}

/** Where a URL points, for logs and errors: never its query (it may carry a token). */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function nextFromLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2]!)) return m[1]!;
  }
  return null;
}

export function windowUrl(base: string | URL, window: SyncWindow): URL {
  const url = new URL(base);
  url.searchParams.set('from', window.from);
  url.searchParams.set('to', window.to);
  return url;
}

export class UpstreamClient {
  private readonly options: Required<Omit<UpstreamClientOptions, 'apiKey' | 'logger'>> &
    UpstreamClientOptions;

  constructor(options: UpstreamClientOptions) {
    this.options = {
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      maxRetryAfterMs: 300_000,
      maxPages: 10_000,
      ...options,
    };
  }

  /** Every page of the window, in order. */
  async *pages(first: URL): AsyncGenerator<UpstreamPage> {
    let url: URL | null = first;
    const seen = new Set<string>();
    for (let page = 1; url; page++) {
      if (page > this.options.maxPages)
        throw new UpstreamError(`more than ${this.options.maxPages} pages`, true);
      if (seen.has(url.href)) throw new UpstreamError(`the next page link repeats ${displayUrl(url)}`, true);
      seen.add(url.href);
      const { body, link } = await this.getWithRetries(url);
      const { records, next } = readPage(body, link);
      yield { page, records };
      url = next === null ? null : this.resolveNext(first, url, next);
    }
  }

  private resolveNext(first: URL, current: URL, next: string): URL {
    const isUrl = /^(https?:\/\/|\/|\?|\.)/i.test(next);
    const url = isUrl ? new URL(next, current) : new URL(first);
    if (!isUrl) url.searchParams.set('cursor', next);
    if (url.origin !== first.origin) {
      throw new UpstreamError(
        `the next page link points to another host (${url.origin}): not followed`,
        true,
      );
    }
    return url;
  }

  private async getWithRetries(url: URL): Promise<{ body: unknown; link: string | null }> {
    const { maxRetries, baseDelayMs, maxDelayMs, maxRetryAfterMs, logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      let failure: UpstreamError;
      let waitMs: number | null = null;
      try {
        const response = await fetch(url, {
          headers: {
            accept: 'application/json',
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        const text = await response.text();
        if (response.ok) {
          try {
            return { body: JSON.parse(text), link: response.headers.get('link') };
          } catch {
            failure = new UpstreamError(
              `${displayUrl(url)} answered with a body that is not JSON (truncated?)`,
              false,
            );
          }
        } else {
          const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
          failure = new UpstreamError(
            `${displayUrl(url)} answered ${response.status} ${response.statusText}`.trim(),
            !retryable,
            response.status,
          );
          waitMs = retryAfterMs(response.headers.get('retry-after'));
        }
      } catch (error) {
        const name = (error as Error).name;
        const message =
          name === 'TimeoutError' || name === 'AbortError'
            ? `no answer from ${displayUrl(url)} within ${this.options.timeoutMs} ms`
            : `${displayUrl(url)} could not be reached: ${(error as Error).message}`;
        failure = new UpstreamError(message, false);
      }
      if (failure.permanent || attempt >= maxRetries) {
        if (!failure.permanent) failure.message += ` (after ${attempt + 1} attempts)`;
        throw failure;
      }
      if (waitMs !== null && waitMs > maxRetryAfterMs) {
        throw new UpstreamError(
          `${failure.message}: Retry-After of ${Math.round(waitMs / 1000)} s is too long`,
          false,
        );
      }
      const backoffMs = waitMs ?? Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
      logger?.warn(
        {
          url: displayUrl(url),
          status: failure.status,
          attempt: attempt + 1,
          delayMs: Math.round(backoffMs),
        },
        `upstream request failed; retrying: ${failure.message}`,
      );
      await delay(backoffMs);
    }
  }
}

function readPage(body: unknown, link: string | null): { records: unknown[]; next: string | null } {
  if (Array.isArray(body)) return { records: body, next: nextFromLink(link) };
  const envelope = UpstreamEnvelope.safeParse(body);
  const records = envelope.success
    ? (envelope.data.data ?? envelope.data.sales ?? envelope.data.records)
    : undefined;
  if (!envelope.success || !records) {
    throw new UpstreamError(
      'the upstream answered JSON that is neither an array of sales nor an object with data, sales or records',
      true,
    );
  }
  return { records, next: envelope.data.next || nextFromLink(link) };
}
