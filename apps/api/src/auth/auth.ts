import type { ApiKeyScope } from '@datasync/schemas';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { forbidden, type HttpProblem, unauthorized } from '../errors.js';
import { sendProblem } from '../plugins/problems.js';
import type { ApiKeyStore } from './api-keys.js';
import { SESSION_COOKIE, type SessionStore, sameToken, sessionIdOfToken } from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: an API key, or a dashboard session's signed-in operator. */
    apiKey?: { name: string; scopes: ReadonlySet<ApiKeyScope> };
  }
}

export interface ApiKeyAuthOptions {
  keys: ApiKeyStore;
  scope: ApiKeyScope;
  /** Answer a missing key with a Basic challenge, so a browser asks for it (Bull Board). */
  basicChallenge?: boolean;
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
async function sessionIdentity(
  request: FastifyRequest,
  sessions: SessionStore,
): Promise<{ name: string; scopes: ReadonlySet<ApiKeyScope> } | HttpProblem | null> {
  const id = request.cookies?.[SESSION_COOKIE];
  if (!id) return null;
  const session = await sessions.find(id);
  if (!session) return unauthorized('your session has ended: sign in again', false);
  if (!SAFE_METHODS.has(request.method)) {
    const token = request.headers['x-csrf-token'];
    if (!sameToken(typeof token === 'string' ? token : undefined, session.csrf))
      return forbidden('missing or wrong x-csrf-token for this session (reload the dashboard)');
  }
  return { name: session.name, scopes: new Set(session.scopes) };
}

/** Why a request may not pass: 401 without a valid key or session, 403 without the scope; null when it may. */
async function refusal(request: FastifyRequest, options: ApiKeyAuthOptions): Promise<HttpProblem | null> {
  const { secret, basic } = presentedKey(request);
  const challenge = options.basicChallenge === true || basic;
  if (!secret) {
    const fromSession = options.keys.sessions ? await sessionIdentity(request, options.keys.sessions) : null;
    if (fromSession === null)
      return unauthorized('missing API key: send Authorization: Bearer <key>', challenge);
    if (!('scopes' in fromSession)) return fromSession;
    if (!fromSession.scopes.has(options.scope))
      return forbidden(`"${fromSession.name}" lacks the ${options.scope} scope`);
    request.apiKey = fromSession;
    return null;
  }
  const sessionId = sessionIdOfToken(secret);
  if (sessionId !== null) {
    // The CLI's session token (datasync login): a header a page on another site cannot set, so no CSRF.
    const session = options.keys.sessions ? await options.keys.sessions.find(sessionId) : null;
    if (!session) return unauthorized('your session has ended: run `datasync login` again', challenge);
    if (!session.scopes.includes(options.scope))
      return forbidden(`"${session.name}" lacks the ${options.scope} scope`);
    request.apiKey = { name: session.name, scopes: new Set(session.scopes) };
    return null;
  }
  const key = options.keys.find(secret);
  if (!key) return unauthorized('invalid API key', challenge);
  if (!key.scopes.has(options.scope))
    return forbidden(`API key "${key.name}" lacks the ${options.scope} scope`);
  request.apiKey = key;
  return null;
}

/**
 * API key auth for a whole route tree: registered once in the tree's encapsulated plugin (it is
 * not encapsulated itself, so its hook covers the tree's routes and no others). It answers the
 * problem itself rather than throwing, so it works under a plugin with its own error handler
 * (Bull Board) the same as under ours.
 */
export const apiKeyAuth = fp<ApiKeyAuthOptions>(
  async (app, options) => {
    app.addHook('onRequest', async (request, reply) => {
      const problem = await refusal(request, options);
      if (problem) return sendProblem(reply, request, problem);
    });
  },
  { fastify: '5.x' },
);
