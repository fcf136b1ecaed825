import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `datasync login` keeps: the session as a bearer token, for one api URL, until it expires. */
export interface SavedSession {
  url: string;
  token: string;
  name: string;
  scopes: string[];
  grantedBy?: string;
  expiresAt: string;
}

/** $XDG_CONFIG_HOME/datasync/session.json (default ~/.config), readable by its owner only. */
export function sessionFilePath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.config');
  return join(base, 'datasync', 'session.json');
}

export function saveSession(env: NodeJS.ProcessEnv, session: SavedSession): string {
  const file = sessionFilePath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // an older file keeps its mode on overwrite
  return file;
}

/** The saved session for this api URL, unless it has expired (then it is removed). */
export function loadSession(env: NodeJS.ProcessEnv, url: string): SavedSession | null {
  const file = sessionFilePath(env);
  if (!existsSync(file)) return null;
  let session: SavedSession;
  try {
    session = JSON.parse(readFileSync(file, 'utf8')) as SavedSession;
  } catch {
    return null;
  }
  if (typeof session.token !== 'string' || session.url !== url) return null;
  if (Date.parse(session.expiresAt) <= Date.now()) {
    removeSession(env);
    return null;
  }
  return session;
}

export function removeSession(env: NodeJS.ProcessEnv): boolean {
  const file = sessionFilePath(env);
  if (!existsSync(file)) return false;
  rmSync(file, { force: true });
  return true;
}
