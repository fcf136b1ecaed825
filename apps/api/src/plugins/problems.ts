import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { HttpProblem, isRedisUnavailable } from '../errors.js';
import { loggableUrl } from './request-log.js';

const PROBLEM_TYPE = 'https://datasync.dev/problems/';

/** Writes a problem+json answer; for scopes whose own error handler would hide ours. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: HttpProblem) {
  const { status, title, detail, extra } = problem;
  if (extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(extra.retryAfterSeconds));
  for (const [name, value] of Object.entries(extra.headers ?? {})) reply.header(name, value);
  const slug = extra.type ?? title.toLowerCase().replaceAll(' ', '-');
  return reply
    .status(status)
    .type('application/problem+json')
    .send({
      type: `${PROBLEM_TYPE}${slug}`,
      title,
      status,
      detail,
      instance: loggableUrl(request.url),
      ...(extra.errors ? { errors: extra.errors } : {}),
    });
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

/**
 * Errors Fastify raises before routing (a URL with a broken %-escape, a path parameter over the
 * length limit): as problem+json too, via Fastify's `frameworkErrors` option.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const detail =
    error.code === 'FST_ERR_BAD_URL'
      ? 'the URL has an invalid %-escape'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'a path segment is too long'
        : error.message;
  return sendProblem(reply, request, new HttpProblem(status, TITLES[status] ?? 'Bad Request', detail));
}

/**
 * Every error leaves as application/problem+json (RFC 9457). Our HttpProblem carries its status;
 * Fastify's own errors (body too large, bad content type, schema validation) are translated;
 * a Redis outage is 503 with Retry-After; anything else is a 500 whose detail hides internals.
 * Registered once at the root (not encapsulated, so the handlers are the whole api's).
 */
export const problems = fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      let problem: HttpProblem;
      if (error instanceof HttpProblem) {
        problem = error;
      } else if (hasZodFastifySchemaValidationErrors(error)) {
        const errors = error.validation.map((v, index) => ({
          index,
          path: v.instancePath.replace(/^\//, '').replaceAll('/', '.'),
          message: v.message ?? 'invalid',
        }));
        // The detail names the first field, so a reader of only the detail knows what to fix.
        const first = errors[0];
        const where = error.validationContext ?? 'request';
        const detail = first
          ? `invalid ${where}: ${first.path || where}: ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more in errors)` : ''}`
          : `invalid ${where}`;
        problem = new HttpProblem(400, 'Bad Request', detail, { errors });
      } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        problem = new HttpProblem(
          413,
          'Payload Too Large',
          `body is larger than the limit of ${app.initialConfig.bodyLimit} bytes`,
        );
      } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim() || 'none';
        problem = new HttpProblem(
          415,
          'Unsupported Media Type',
          `Content-Type ${type} is not accepted here: send JSON as application/json (a sales batch also as application/x-ndjson), and files as text/csv`,
        );
      } else if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
        problem = new HttpProblem(400, 'Bad Request', 'body is empty');
      } else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
        problem = new HttpProblem(400, 'Bad Request', `body is not valid JSON: ${error.message}`);
      } else if (isRedisUnavailable(error)) {
        request.log.warn({ err: error.message }, 'Redis unavailable');
        problem = new HttpProblem(
          503,
          'Service Unavailable',
          'the queue (Redis) is unavailable; retry shortly',
          {
            retryAfterSeconds: 5,
          },
        );
      } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        problem = new HttpProblem(error.statusCode, 'Bad Request', error.message);
      } else {
        request.log.error({ err: error }, 'unhandled error');
        problem = new HttpProblem(
          500,
          'Internal Server Error',
          `unexpected error (request ${request.id}); see the api log`,
        );
      }
      return sendProblem(reply, request, problem);
    });

    app.setNotFoundHandler((request, reply) => {
      return reply
        .status(404)
        .type('application/problem+json')
        .send({
          type: `${PROBLEM_TYPE}not-found`,
          title: 'Not Found',
          status: 404,
          detail: `no route ${request.method} ${request.url.split('?')[0]}`,
          instance: loggableUrl(request.url),
        });
    });
  },
  { fastify: '5.x' },
);
