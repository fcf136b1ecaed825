import { setTimeout as sleep } from 'node:timers/promises';
import { DirectorySignInBody, NoContent, Problem, SessionInfo, SignInMethods } from '@datasync/schemas';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Directory, DirectoryUnavailableError, directoryOptionsFromConfig } from '../auth/directory.js';
import { LoginThrottle } from '../auth/login-throttle.js';
import { SESSION_COOKIE, SESSION_TOKEN_PREFIX, SessionStore, sameToken } from '../auth/sessions.js';
import type { ApiDeps } from '../deps.js';
import { forbidden, notFound, serviceUnavailable, tooManyRequests, unauthorized } from '../errors.js';
import { sessionBody, sessionCookieOptions, sessionIdOf } from './session.js';

const PROXY_PEER = /^(127\.|::1$|::ffff:127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|fc|fd)/i;

/**
 * The client address failures are counted by. Not `request.ip`: with trustProxy it is the first
 * X-Forwarded-For entry, which a client writes itself (nginx appends to it), so rotating it would
 * dodge the per-address limit. Our nginx sets X-Real-IP to the address it saw, overwriting any sent:
 * trusted when the request comes from a proxy on loopback or a private network, else the peer.
 */
export function clientAddress(request: FastifyRequest): string {
  const peer = request.socket.remoteAddress ?? request.ip;
  const real = request.headers['x-real-ip'];
  return PROXY_PEER.test(peer) && typeof real === 'string' && real.trim() ? real.trim() : peer;
}

/** How long a client should wait before asking again when the directory does not answer. */
const DIRECTORY_RETRY_AFTER_S = 10;

/**
 * Sign-in with the company directory (docs/operations.md, "Directory sign-in"): `POST /auth/login`
 * opens the same session as the dashboard's key sign-in, its scope read from the directory at
 * every sign-in; `POST /auth/logout` ends it. Off (404) while LDAP_SERVER is unset.
 */
export const directoryLoginRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  deps.keys.sessions ??= new SessionStore(deps.redis, deps.config.SESSION_TTL_MINUTES * 60_000);
  const sessions = deps.keys.sessions;
  const options = directoryOptionsFromConfig(deps.config);
  const directory = options ? new Directory(options) : null;
  const throttle = new LoginThrottle(
    deps.redis,
    deps.config.LOGIN_MAX_FAILURES,
    deps.config.LOGIN_LOCKOUT_MINUTES * 60_000,
  );
  const body = sessionBody(deps.config.DASHBOARD_TZ ?? deps.config.SCHEDULE_TZ);

  app.get(
    '/auth/methods',
    {
      schema: {
        summary: 'How one may sign in: an operator key always, a directory account with LDAP_SERVER',
        tags: ['dashboard'],
        response: { 200: SignInMethods },
      },
    },
    async () => ({ apiKey: true as const, directory: directory !== null }),
  );

  app.post(
    '/auth/login',
    {
      schema: {
        summary: 'Sign in with a directory account (LDAP / Active Directory)',
        description:
          'Members of LDAP_OPERATOR_GROUP (nested groups too) get the operator scope. A wrong password and an unknown user get the same 401; repeated failures are slowed, then refused (429) for LOGIN_LOCKOUT_MINUTES; a directory that does not answer: 503 with Retry-After. With `client: "cli"` the session comes back as a bearer token instead of a cookie.',
        tags: ['dashboard'],
        body: DirectorySignInBody,
        response: {
          200: SessionInfo,
          400: Problem,
          401: Problem,
          403: Problem,
          404: Problem,
          429: Problem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      if (!directory) throw notFound('directory sign-in is off: LDAP_SERVER is not set');
      const { username, password, client } = request.body;
      const address = clientAddress(request);
      const decision = await throttle.check(username, address);
      if (decision.refused) {
        await throttle.count('locked');
        throw tooManyRequests(
          'too many failed sign-ins for this user name or address: try again later',
          decision.retryAfterSeconds,
        );
      }
      if (decision.delayMs > 0) await sleep(decision.delayMs);
      let verdict: Awaited<ReturnType<Directory['authenticate']>>;
      try {
        verdict = await directory.authenticate(username, password);
      } catch (error) {
        if (!(error instanceof DirectoryUnavailableError)) throw error;
        await throttle.count('unavailable');
        request.log.warn({ reason: error.message }, 'directory sign-in: the directory does not answer');
        throw serviceUnavailable('the directory does not answer: try again shortly', DIRECTORY_RETRY_AFTER_S);
      }
      if (verdict.outcome === 'invalid') {
        await throttle.failed(username, address);
        await throttle.count('invalid');
        request.log.info('directory sign-in refused: wrong user name or password');
        throw unauthorized('wrong user name or password', false);
      }
      await throttle.succeeded(username);
      if (verdict.outcome === 'not-in-group') {
        await throttle.count('forbidden');
        request.log.info({ user: verdict.name }, 'directory sign-in refused: not in the operator group');
        throw forbidden(`"${verdict.name}" is not a member of the operator group`);
      }
      await throttle.count('success');
      const { id, session } = await sessions.create({
        name: verdict.name,
        scopes: new Set(['operator']),
        via: 'directory',
        grantedBy: verdict.group,
      });
      request.log.info({ user: verdict.name, grantedBy: verdict.group, client }, 'directory sign-in');
      if (client === 'cli') return { ...body(session), token: `${SESSION_TOKEN_PREFIX}${id}` };
      reply.setCookie(SESSION_COOKIE, id, {
        ...sessionCookieOptions(request),
        maxAge: Math.floor(sessions.ttlMs / 1000),
      });
      return body(session);
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        summary: 'Sign out: the session (cookie or CLI token) ends at once, on every api',
        tags: ['dashboard'],
        response: { 204: NoContent, 403: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const id = sessionIdOf(request);
      const fromCookie = id !== undefined && id === request.cookies[SESSION_COOKIE];
      const session = await sessions.find(id);
      // From a browser, signing out changes something: the CSRF token too.
      const token = request.headers['x-csrf-token'];
      if (session && fromCookie && !sameToken(typeof token === 'string' ? token : undefined, session.csrf))
        throw forbidden('missing or wrong x-csrf-token for this session');
      await sessions.end(id);
      if (fromCookie) reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(request));
      return reply.status(204).send(null);
    },
  );
};
