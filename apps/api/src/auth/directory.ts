import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, DEFAULT_LDAP_USER_FILTER, type EnvConfig } from '@datasync/schemas';
import { Client, EqualityFilter, InvalidCredentialsError, SizeLimitExceededError } from 'ldapts';

/**
 * Sign-in with the company directory (LDAP / Active Directory), one short connection per attempt:
 * bind as the service account, search the user (the typed name only through ldapts' escaping),
 * bind as the user's DN with the typed password, bind back as the service account and check the
 * operator group, nested groups included. A fresh connection per attempt means every attempt binds
 * again: nothing rides on a connection the directory may have dropped.
 */

export interface DirectoryOptions {
  url: string;
  bindDn?: string;
  bindPassword?: string;
  baseDn: string;
  /** Contains `{{username}}`, replaced by the escaped name. */
  userFilter: string;
  operatorGroup: string;
  /** PEM text of the CA to trust (ldaps:// or StartTLS); unset: the system CAs. */
  tlsCa?: string;
  startTls: boolean;
  timeoutMs: number;
}

export type DirectoryVerdict =
  | { outcome: 'granted'; dn: string; name: string; group: string }
  | { outcome: 'not-in-group'; dn: string; name: string }
  | { outcome: 'invalid' };

/** The directory could not answer (down, timed out, TLS refused, service account refused). */
export class DirectoryUnavailableError extends Error {
  override readonly name = 'DirectoryUnavailableError';
}

/** Active Directory says so in its root DSE: LDAP_CAP_ACTIVE_DIRECTORY_OID. */
const AD_CAPABILITY = '1.2.840.113556.1.4.800';
/** AD's LDAP_MATCHING_RULE_IN_CHAIN: membership through any depth of nested groups, in one search. */
const IN_CHAIN = '1.2.840.113556.1.4.1941';
/** Nesting followed at most this deep by the upward walk (a cycle stops earlier: seen DNs). */
const MAX_NESTING = 10;

/** A value for an LDAP filter, escaped by ldapts (`*`, `(`, `)`, `\` and NUL match literally). */
export function escapeFilterValue(value: string): string {
  return new EqualityFilter({ attribute: 'x', value: '' }).escape(value);
}

const sameDn = (a: string, b: string) =>
  a.replace(/\s*,\s*/g, ',').toLowerCase() === b.replace(/\s*,\s*/g, ',').toLowerCase();

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `LDAP_TLS_CA=${path}: cannot read the CA file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

export function directoryOptionsFromConfig(config: EnvConfig): DirectoryOptions | null {
  if (!config.LDAP_SERVER || !config.LDAP_BASE_DN || !config.LDAP_OPERATOR_GROUP) return null;
  return {
    url: config.LDAP_SERVER,
    ...(config.LDAP_USER ? { bindDn: config.LDAP_USER } : {}),
    ...(config.LDAP_PASSWORD ? { bindPassword: config.LDAP_PASSWORD } : {}),
    baseDn: config.LDAP_BASE_DN,
    userFilter: config.LDAP_USER_FILTER ?? DEFAULT_LDAP_USER_FILTER,
    operatorGroup: config.LDAP_OPERATOR_GROUP,
    ...(config.LDAP_TLS_CA ? { tlsCa: readCa(config.LDAP_TLS_CA) } : {}),
    startTls: config.LDAP_STARTTLS,
    timeoutMs: config.LDAP_TIMEOUT_MS,
  };
}

export class Directory {
  private activeDirectory: boolean | null = null;
  /** A moving average of how long a real user's refused bind takes (see bindUserEvenIfUnknown). */
  private userBindMs: number | null = null;

  constructor(readonly options: DirectoryOptions) {}

  /**
   * The verdict for a name and a password (not blank: the caller refuses that before, since a
   * bind with an empty password is an unauthenticated bind that servers answer with success).
   * Throws DirectoryUnavailableError when the directory cannot decide; never lets anyone in then.
   */
  async authenticate(username: string, password: string): Promise<DirectoryVerdict> {
    if (password.trim() === '') throw new Error('a blank password must be refused before the directory');
    const client = await this.connect();
    try {
      await this.bindService(client);
      const user = await this.findUser(client, username);
      const bound = await this.bindUserEvenIfUnknown(client, user?.dn ?? null, password);
      if (!bound || !user) return { outcome: 'invalid' };
      await this.bindService(client);
      const granted = await this.isOperator(client, user.dn);
      return granted
        ? { outcome: 'granted', dn: user.dn, name: user.name, group: this.options.operatorGroup }
        : { outcome: 'not-in-group', dn: user.dn, name: user.name };
    } catch (error) {
      throw unavailable(error);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private async connect(): Promise<Client> {
    const tlsOptions: ConnectionOptions = this.options.tlsCa ? { ca: this.options.tlsCa } : {};
    const client = new Client({
      url: this.options.url,
      timeout: this.options.timeoutMs,
      connectTimeout: this.options.timeoutMs,
      // ldapts opens TLS whenever tlsOptions is given, even for ldap://: only for ldaps:// then.
      ...(/^ldaps:/i.test(this.options.url) ? { tlsOptions } : {}),
    });
    if (this.options.startTls) {
      try {
        await client.startTLS(tlsOptions);
      } catch (error) {
        await client.unbind().catch(() => undefined);
        throw unavailable(error);
      }
    }
    return client;
  }

  private async bindService(client: Client) {
    if (this.options.bindDn) await client.bind(this.options.bindDn, this.options.bindPassword ?? '');
  }

  /** The one entry the filter finds; none or several (an ambiguous name) is nobody. */
  private async findUser(client: Client, username: string): Promise<{ dn: string; name: string } | null> {
    const filter = this.options.userFilter.replaceAll('{{username}}', escapeFilterValue(username));
    try {
      const { searchEntries } = await client.search(this.options.baseDn, {
        scope: 'sub',
        filter,
        sizeLimit: 2,
        attributes: ['cn', 'uid', 'sAMAccountName', 'mail'],
      });
      if (searchEntries.length !== 1) return null;
      const entry = searchEntries[0]!;
      const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);
      const name = [entry.uid, entry.sAMAccountName, entry.mail, entry.cn]
        .map(first)
        .find((v) => typeof v === 'string');
      return { dn: entry.dn, name: (name as string | undefined) ?? username };
    } catch (error) {
      if (error instanceof SizeLimitExceededError) return null;
      throw error;
    }
  }

  /**
   * An unknown name binds too, to a DN that cannot exist, and then waits as long as a real user's
   * refused bind has been taking (a server answers a missing DN faster than it checks a password:
   * about 1.7 ms of 5 on slapd), so a wrong password and an unknown name cost about the same.
   */
  private async bindUserEvenIfUnknown(client: Client, dn: string | null, password: string): Promise<boolean> {
    const started = performance.now();
    const bound = await this.bindUser(
      client,
      dn ?? `cn=datasync-no-such-user,${this.options.baseDn}`,
      password,
    );
    const took = performance.now() - started;
    if (dn !== null) {
      if (!bound) this.userBindMs = this.userBindMs === null ? took : this.userBindMs * 0.8 + took * 0.2;
      return bound;
    }
    // A timer overshoots by about 1 ms (measured): ask for that much less.
    const wait = (this.userBindMs ?? 0) - took - 1;
    if (wait >= 0.5) await sleep(wait);
    return bound;
  }

  private async bindUser(client: Client, dn: string, password: string): Promise<boolean> {
    try {
      await client.bind(dn, password);
      return true;
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return false;
      throw error;
    }
  }

  private async isActiveDirectory(client: Client): Promise<boolean> {
    if (this.activeDirectory === null) {
      const { searchEntries } = await client.search('', {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['supportedCapabilities'],
      });
      const caps = searchEntries[0]?.supportedCapabilities;
      this.activeDirectory = (Array.isArray(caps) ? caps : [caps]).some((c) => String(c) === AD_CAPABILITY);
    }
    return this.activeDirectory;
  }

  private async isOperator(client: Client, userDn: string): Promise<boolean> {
    const group = this.options.operatorGroup;
    if (await this.isActiveDirectory(client)) {
      const { searchEntries } = await client.search(userDn, {
        scope: 'base',
        filter: `(memberOf:${IN_CHAIN}:=${escapeFilterValue(group)})`,
        attributes: ['1.1'],
      });
      return searchEntries.length > 0;
    }
    return this.walkUpToGroup(client, userDn, group);
  }

  /**
   * Without AD's in-chain rule (OpenLDAP and others): the groups listing the user as member or
   * uniqueMember, then the groups listing those, level by level, under the naming context that
   * holds the operator group. Needs no memberOf overlay.
   */
  private async walkUpToGroup(client: Client, userDn: string, group: string): Promise<boolean> {
    const base = await this.namingContextOf(client, group);
    const seen = new Set<string>([userDn.toLowerCase()]);
    let frontier = [userDn];
    for (let depth = 0; depth < MAX_NESTING && frontier.length > 0; depth++) {
      const terms = frontier.flatMap((dn) => {
        const v = escapeFilterValue(dn);
        return [`(member=${v})`, `(uniqueMember=${v})`];
      });
      const { searchEntries } = await client.search(base, {
        scope: 'sub',
        filter: `(|${terms.join('')})`,
        attributes: ['1.1'],
      });
      if (searchEntries.some((e) => sameDn(e.dn, group))) return true;
      frontier = searchEntries.map((e) => e.dn).filter((dn) => !seen.has(dn.toLowerCase()));
      for (const dn of frontier) seen.add(dn.toLowerCase());
    }
    return false;
  }

  private async namingContextOf(client: Client, dn: string): Promise<string> {
    const { searchEntries } = await client.search('', {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['namingContexts'],
    });
    const raw = searchEntries[0]?.namingContexts;
    const contexts = (Array.isArray(raw) ? raw : [raw]).map(String);
    const lower = dn.replace(/\s*,\s*/g, ',').toLowerCase();
    const found = contexts.find((c) => lower.endsWith(c.replace(/\s*,\s*/g, ',').toLowerCase()));
    return found ?? this.options.baseDn;
  }
}

/** Any failure but a wrong password means the directory cannot decide now. No secret in the message. */
function unavailable(error: unknown): DirectoryUnavailableError {
  if (error instanceof DirectoryUnavailableError) return error;
  const code = (error as { code?: unknown }).code;
  const detail =
    error instanceof Error ? `${error.name}${typeof code === 'string' ? ` ${code}` : ''}` : 'error';
  return new DirectoryUnavailableError(`the directory did not answer the sign-in (${detail})`, {
    cause: error,
  });
}
