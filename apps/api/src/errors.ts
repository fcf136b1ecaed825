import type { RecordError } from '@datasync/schemas';

/**
 * The api's error types, each mapped once to RFC 9457 problem+json by the error handler
 * (plugins/problems.ts). Handlers throw these; they never build error bodies by hand.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: {
      errors?: RecordError[];
      retryAfterSeconds?: number;
      type?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export const badRequest = (detail: string, errors?: RecordError[]) =>
  new HttpProblem(400, 'Bad Request', detail, errors ? { errors } : {});
export const unauthorized = (detail: string, basic = false) =>
  new HttpProblem(401, 'Unauthorized', detail, {
    headers: {
      'www-authenticate': basic ? 'Basic realm="datasync", charset="UTF-8"' : 'Bearer realm="datasync"',
    },
  });
export const forbidden = (detail: string) => new HttpProblem(403, 'Forbidden', detail);
export const notFound = (detail: string) => new HttpProblem(404, 'Not Found', detail);
export const conflict = (detail: string, retryAfterSeconds?: number) =>
  new HttpProblem(409, 'Conflict', detail, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
export const payloadTooLarge = (detail: string) => new HttpProblem(413, 'Payload Too Large', detail);
export const unsupportedMediaType = (detail: string) =>
  new HttpProblem(415, 'Unsupported Media Type', detail);
export const unprocessable = (detail: string) => new HttpProblem(422, 'Unprocessable Content', detail);
export const tooManyRequests = (detail: string, retryAfterSeconds: number) =>
  new HttpProblem(429, 'Too Many Requests', detail, { retryAfterSeconds });
export const serviceUnavailable = (detail: string, retryAfterSeconds = 5) =>
  new HttpProblem(503, 'Service Unavailable', detail, { retryAfterSeconds });
export const gatewayTimeout = (detail: string) => new HttpProblem(504, 'Gateway Timeout', detail);

/** ioredis / BullMQ errors that mean "Redis is not reachable right now". */
export function isRedisUnavailable(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /enableOfflineQueue|Command timed out|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|max retries per request|Stream isn't writeable|LOADING|MISCONF|OOM command not allowed/i.test(
    message,
  );
}
