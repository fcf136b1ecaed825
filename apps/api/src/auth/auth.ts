import type { ApiKeyScope } from '@datasync/schemas';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.js';
import type { ApiKeyStore } from './api-keys.js';
import { SESSION_COOKIE, type SessionStore, sameToken } from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: an API key, or a dashboard session's signed-in operator. */
    apiKey?: { name: string; scopes: ReadonlySet<ApiKeyScope> };
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

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A request without an Authorization header may come from the dashboard: its session cookie
 * stands for the key, and anything but a read must carry the session's CSRF token.
 */
async function sessionIdentity(request: FastifyRequest, sessions: SessionStore) {
  const id = request.cookies?.[SESSION_COOKIE];
  if (!id) return null;
  const session = await sessions.find(id);
  if (!session) throw unauthorized('your session has ended: sign in again', false);
  if (!SAFE_METHODS.has(request.method)) {
    const token = request.headers['x-csrf-token'];
    if (!sameToken(typeof token === 'string' ? token : undefined, session.csrf))
      throw forbidden('missing or wrong x-csrf-token for this session (reload the dashboard)');
  }
  return { name: session.name, scopes: new Set(session.scopes) };
}

/** An onRequest hook: 401 without a valid key or session, 403 without the scope. */
export function requireScope(
  store: ApiKeyStore,
  scope: ApiKeyScope,
  options: { basicChallenge?: boolean } = {},
) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const { secret, basic } = presentedKey(request);
    if (!secret) {
      const fromSession = store.sessions ? await sessionIdentity(request, store.sessions) : null;
      if (fromSession) {
        if (!fromSession.scopes.has(scope)) throw forbidden(`"${fromSession.name}" lacks the ${scope} scope`);
        request.apiKey = fromSession;
        return;
      }
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
