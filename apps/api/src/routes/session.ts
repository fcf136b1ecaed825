import { NoContent, Problem, SessionInfo, SignInBody } from '@datasync/schemas';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  SESSION_COOKIE,
  SessionStore,
  type StoredSession,
  sameToken,
  sessionIdOfToken,
} from '../auth/sessions.js';
import type { ApiDeps } from '../deps.js';
import { forbidden, unauthorized } from '../errors.js';

/** Today's date in a zone, as YYYY-MM-DD (en-CA formats dates that way). */
export const todayIn = (timeZone: string, now = new Date()) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    now,
  );

/** What sign-in and `GET /auth/session` answer about a session. */
export const sessionBody = (timeZone: string) => (session: StoredSession) => ({
  name: session.name,
  scopes: session.scopes,
  csrfToken: session.csrf,
  expiresAt: session.expiresAt,
  timeZone,
  today: todayIn(timeZone),
  via: session.via,
  ...(session.grantedBy ? { grantedBy: session.grantedBy } : {}),
});

export const sessionCookieOptions = (request: FastifyRequest) => ({
  path: '/',
  httpOnly: true,
  sameSite: 'strict' as const,
  // Behind nginx with TLS (X-Forwarded-Proto: https, trustProxy): the cookie never travels in clear.
  secure: request.protocol === 'https',
});

/** The session a request stands for: the dashboard's cookie, or the CLI's bearer session token. */
export function sessionIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? '';
  if (header.toLowerCase().startsWith('bearer ')) {
    const id = sessionIdOfToken(header.slice(7).trim());
    if (id !== null) return id;
  }
  return request.cookies[SESSION_COOKIE];
}

/**
 * The dashboard's sign-in: `POST /auth/session` trades an operator key for a session cookie
 * (HttpOnly, SameSite=Strict, Secure behind TLS, expiring); `GET` says who is signed in;
 * `DELETE` signs out. The key is never stored in the browser.
 */
export const sessionRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  deps.keys.sessions ??= new SessionStore(deps.redis, deps.config.SESSION_TTL_MINUTES * 60_000);
  const sessions = deps.keys.sessions;
  const timeZone = deps.config.DASHBOARD_TZ ?? deps.config.SCHEDULE_TZ;
  const body = sessionBody(timeZone);
  const cookieOptions = sessionCookieOptions;
  const current = async (request: FastifyRequest) => {
    const session = await sessions.find(sessionIdOf(request));
    if (!session) throw unauthorized('not signed in', false);
    return session;
  };

  app.post(
    '/auth/session',
    {
      schema: {
        summary: 'Sign in to the dashboard with an operator key',
        tags: ['dashboard'],
        body: SignInBody,
        response: { 200: SessionInfo, 400: Problem, 401: Problem, 403: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const key = deps.keys.find(request.body.key);
      if (!key) throw unauthorized('that is not a valid API key', false);
      if (!key.scopes.has('operator'))
        throw forbidden(`API key "${key.name}" is an ingest key: the dashboard needs an operator key`);
      const { id, session } = await sessions.create({ name: key.name, scopes: key.scopes, via: 'api-key' });
      reply.setCookie(SESSION_COOKIE, id, {
        ...cookieOptions(request),
        maxAge: Math.floor(sessions.ttlMs / 1000),
      });
      request.log.info({ session: key.name }, 'dashboard sign-in');
      return body(session);
    },
  );

  app.get(
    '/auth/session',
    {
      schema: {
        summary: 'Who is signed in to the dashboard',
        tags: ['dashboard'],
        response: { 200: SessionInfo, 401: Problem, 503: Problem },
      },
    },
    async (request) => body(await current(request)),
  );

  app.delete(
    '/auth/session',
    {
      schema: {
        summary: 'Sign out: the session ends at once, on every api',
        tags: ['dashboard'],
        response: { 204: NoContent, 403: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const id = request.cookies[SESSION_COOKIE];
      const session = await sessions.find(id);
      // Signing out changes something: the CSRF token too, so another site cannot sign anyone out.
      const token = request.headers['x-csrf-token'];
      if (session && !sameToken(typeof token === 'string' ? token : undefined, session.csrf))
        throw forbidden('missing or wrong x-csrf-token for this session');
      await sessions.end(id);
      reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
      return reply.status(204).send(null);
    },
  );
};
