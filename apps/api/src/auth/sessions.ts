import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sessionKey } from '@datasync/runtime';
import { type ApiKeyScope, ApiKeyScope as Scope } from '@datasync/schemas';
import type { Redis } from 'ioredis';
import { z } from 'zod';

export const SESSION_COOKIE = 'datasync_session';

/** What Redis keeps of a session (under the sha256 of its id; the id itself only in the cookie). */
const StoredSession = z.object({
  name: z.string(),
  scopes: z.array(Scope),
  csrf: z.string(),
  expiresAt: z.string(),
  via: z.enum(['api-key', 'directory']),
  grantedBy: z.string().optional(),
});
export type StoredSession = z.infer<typeof StoredSession>;

export interface Identity {
  name: string;
  scopes: ReadonlySet<ApiKeyScope>;
  via: StoredSession['via'];
  /** Directory sign-in: the group that granted the scopes. */
  grantedBy?: string;
}

/** A session held by the CLI rather than a browser cookie: `Authorization: Bearer dss_<id>`. */
export const SESSION_TOKEN_PREFIX = 'dss_';

/** The session id of a bearer session token, or null when the secret is not one (an API key). */
export function sessionIdOfToken(secret: string): string | null {
  return secret.startsWith(SESSION_TOKEN_PREFIX) ? secret.slice(SESSION_TOKEN_PREFIX.length) : null;
}

/**
 * Dashboard sessions in Redis: made at sign-in (an operator key today, a directory account with
 * LDAP), ended by their TTL or by sign-out. Any api process finds any session, so two apis behind
 * one port share them. The CSRF token is per session: a request that changes something must echo
 * it in `x-csrf-token`, which a page on another site cannot read.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    readonly ttlMs: number,
  ) {}

  async create(identity: Identity): Promise<{ id: string; session: StoredSession }> {
    const id = randomBytes(32).toString('base64url');
    const session: StoredSession = {
      name: identity.name,
      scopes: [...identity.scopes],
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: new Date(Date.now() + this.ttlMs).toISOString(),
      via: identity.via,
      ...(identity.grantedBy ? { grantedBy: identity.grantedBy } : {}),
    };
    await this.redis.set(sessionKey(id), JSON.stringify(session), 'PX', this.ttlMs);
    return { id, session };
  }

  async find(id: string | undefined): Promise<StoredSession | null> {
    if (!id || id.length > 100) return null;
    const text = await this.redis.get(sessionKey(id));
    if (!text) return null;
    const parsed = StoredSession.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  }

  async end(id: string | undefined): Promise<void> {
    if (id && id.length <= 100) await this.redis.del(sessionKey(id));
  }
}

export function sameToken(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
