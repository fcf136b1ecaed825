import type { SessionInfo } from '@datasync/schemas';
import { ApiClient, ApiError } from '../client.js';
import { type Command, parse, print, UsageError } from '../command.js';
import { printKeyValues } from '../output.js';
import { promptLine, promptSecret } from '../prompt.js';
import { loadSession, removeSession, saveSession } from '../session-file.js';

/** `datasync login`: a directory account (LDAP) for a session token kept in the config folder. */
export const loginCommand: Command = {
  name: 'login',
  usage: 'datasync login [USER] [--json]',
  summary: 'sign in with your directory account; the session is kept (mode 0600) for later commands',
  async run(ctx) {
    const { positionals } = parse(ctx.argv, {});
    if (positionals.length > 1) throw new UsageError('one user name at most');
    const username = (positionals[0] ?? (await promptLine('user name: '))).trim();
    if (!username) throw new UsageError('a user name is needed');
    const password = await promptSecret(`password for ${username}: `);
    if (password.trim() === '') throw new UsageError('the password must not be blank');
    const info = await ctx.client.request<SessionInfo>('POST', '/auth/login', {
      json: { username, password, client: 'cli' },
    });
    if (!info.token) throw new ApiError('the api answered without a session token', 500);
    const file = saveSession(ctx.env, {
      url: ctx.client.baseUrl,
      token: info.token,
      name: info.name,
      scopes: info.scopes,
      ...(info.grantedBy ? { grantedBy: info.grantedBy } : {}),
      expiresAt: info.expiresAt,
    });
    const shown = {
      name: info.name,
      scopes: info.scopes,
      grantedBy: info.grantedBy,
      expiresAt: info.expiresAt,
    };
    print(ctx.json, shown, () => {
      process.stdout.write(`signed in as ${info.name} (${info.scopes.join(', ')}) until ${info.expiresAt}\n`);
      if (info.grantedBy) process.stdout.write(`granted by ${info.grantedBy}\n`);
      if (ctx.env.DATASYNC_API_KEY)
        process.stdout.write('note: DATASYNC_API_KEY is set, and commands use it before this session\n');
      process.stderr.write(`session kept in ${file}\n`);
    });
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  usage: 'datasync logout [--json]',
  summary: 'end the session of `datasync login`, on the api and on this machine',
  async run(ctx) {
    parse(ctx.argv, {}, false);
    const saved = loadSession(ctx.env, ctx.client.baseUrl);
    let ended = false;
    if (saved) {
      const client = new ApiClient({ baseUrl: ctx.client.baseUrl, apiKey: saved.token });
      // The local copy goes in any case; an api that cannot be reached lets the session expire.
      ended = await client.request('POST', '/auth/logout').then(
        () => true,
        (error: Error) => {
          process.stderr.write(`datasync logout: ${error.message}\n`);
          return false;
        },
      );
    }
    const removed = removeSession(ctx.env);
    print(ctx.json, { signedOut: removed, endedOnApi: ended }, () => {
      process.stdout.write(removed ? 'signed out\n' : 'not signed in\n');
    });
    return 0;
  },
};

export const whoamiCommand: Command = {
  name: 'whoami',
  usage: 'datasync whoami [--json]',
  summary: 'who the commands act as: the signed-in directory user, its scope and the group that granted it',
  async run(ctx) {
    parse(ctx.argv, {}, false);
    if (ctx.env.DATASYNC_API_KEY) {
      print(ctx.json, { via: 'api-key' }, () => process.stdout.write('an API key (DATASYNC_API_KEY)\n'));
      return 0;
    }
    const saved = loadSession(ctx.env, ctx.client.baseUrl);
    if (!saved) throw new ApiError('not signed in: run `datasync login` or set DATASYNC_API_KEY', 401);
    const info = await ctx.client.request<SessionInfo>('GET', '/auth/session');
    const shown = {
      name: info.name,
      scopes: info.scopes,
      grantedBy: info.grantedBy,
      expiresAt: info.expiresAt,
    };
    print(ctx.json, shown, () => printKeyValues(shown as Record<string, unknown>));
    return 0;
  },
};
