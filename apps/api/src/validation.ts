import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';

/**
 * For routes whose body is checked by hand (raw batches checked record by record, uploads
 * streamed to disk, job options checked per job type): the body passes through as sent, while
 * the query string and path parameters are still validated by their schemas, so a bad `?wait=`
 * or `?force=` is a 400 naming the parameter and never read as "true".
 */
export const bodyCheckedByHand: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body'
    ? (data: unknown) => ({ value: data })
    : (validatorCompiler as FastifySchemaCompiler<unknown>)(route);
