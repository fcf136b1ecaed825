import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';

const checkedByHand = new WeakSet<object>();

/**
 * Marks a route's body schema as documentation only, for the routes whose body is checked by
 * hand (a raw batch checked record by record, job options checked against the job type in the
 * path): the body passes through as sent and the OpenAPI document still shows the schema. Only
 * the body: the query string and path parameters are still validated, so a bad `?wait=` or
 * `?force=` is a 400 naming the parameter and never read as "true".
 */
export function rawBody<T extends object>(schema: T): T {
  checkedByHand.add(schema);
  return schema;
}

/** The api's one validator compiler (set once in app.ts): zod's, except for a `rawBody` body. */
export const requestValidator: FastifySchemaCompiler<FastifySchema> = (route) =>
  route.httpPart === 'body' && typeof route.schema === 'object' && checkedByHand.has(route.schema)
    ? (data: unknown) => ({ value: data })
    : (validatorCompiler as FastifySchemaCompiler<FastifySchema>)(route);
