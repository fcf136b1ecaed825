import type { FastifyRequest } from 'fastify';

/**
 * Query parameters whose values are logged: the ones the api defines, none of which can hold a
 * secret. Any other parameter (`?api_key=...`, `?token=...`: a client putting a key where it
 * does not belong) is logged by name only, so no log line carries a secret a client sent.
 */
const LOGGED_QUERY_VALUES = new Set([
  'wait',
  'force',
  'updateExisting',
  'groupBy',
  'from',
  'to',
  'limit',
  'offset',
  'batchId',
  'importId',
  'source',
  'bucket',
  'top',
  'region',
  'product',
  'reason',
  'newest',
  'format',
  'dryRun',
  'map',
]);

/** The URL as logged: path as is, query values of unknown parameters replaced. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '));
      } catch {
        // a malformed escape: the name is not one of ours, so its value is hidden below
      }
      return eq === -1 || LOGGED_QUERY_VALUES.has(decoded) ? pair : `${name}=[redacted]`;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** Fastify's request serializer (method, url, host, address), with the URL made loggable. */
export function requestLogSerializer(request: FastifyRequest) {
  return {
    method: request.method,
    url: loggableUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
  };
}
