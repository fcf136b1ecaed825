import type { ApiKeyScope } from '@datasync/schemas';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.js';
import type { ApiKey, ApiKeyStore } from './api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

/** The key from `Authorization: Bearer <key>`, or from Basic auth (the key as password) for browsers. */
function presentedKey(request: FastifyRequest): { secret: string | null; basic: boolean } {
  const header = request.headers.authorization;
  if (!header) return { secret: null, basic: false };
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return { secret: value.trim() || null, basic: false };
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { secret: colon >= 0 ? decoded.slice(colon + 1) : null, basic: true };
  }
  return { secret: null, basic: false };
}

/** An onRequest hook: 401 without a valid key, 403 without the scope. */
export function requireScope(
  store: ApiKeyStore,
  scope: ApiKeyScope,
  options: { basicChallenge?: boolean } = {},
) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const { secret, basic } = presentedKey(request);
    if (!secret) {
      throw unauthorized(
        'missing API key: send Authorization: Bearer <key>',
        options.basicChallenge === true || basic,
      );
    }
    const key = store.find(secret);
    if (!key) throw unauthorized('invalid API key', options.basicChallenge === true || basic);
    if (!key.scopes.has(scope)) throw forbidden(`API key "${key.name}" lacks the ${scope} scope`);
    request.apiKey = key;
  };
}
