import { timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type ApiKeyEntry,
  ApiKeyScope,
  ApiKeysFile,
  ConfigError,
  type EnvConfig,
  hashApiKey,
  newApiKeySecret,
} from '@datasync/schemas';

import type { SessionStore } from './sessions.js';

export interface ApiKey {
  name: string;
  scopes: ReadonlySet<ApiKeyScope>;
  hash: Buffer;
}

/**
 * The configured keys, held only as sha256 hashes. `find` compares the presented key's hash with
 * every stored hash in constant time (no early exit), so timing says nothing about which matched.
 */
export class ApiKeyStore {
  /** Dashboard sessions (set by createApiDeps): a signed-in operator stands for a key. */
  sessions: SessionStore | null = null;

  constructor(readonly keys: readonly ApiKey[]) {}

  find(secret: string): ApiKey | null {
    const presented = Buffer.from(hashApiKey(secret), 'hex');
    let found: ApiKey | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(presented, key.hash) && !found) found = key;
    }
    return found;
  }
}

function toKey(entry: ApiKeyEntry): ApiKey {
  return { name: entry.name, scopes: new Set(entry.scopes), hash: Buffer.from(entry.sha256, 'hex') };
}

/** `name:scope[+scope]:secret`, comma separated. Errors name the entry, never the secret. */
export function parseApiKeysVariable(value: string): ApiKeyEntry[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item, i) => {
      const [name, scopes, ...rest] = item.split(':');
      const secret = rest.join(':');
      if (!name || !scopes || !secret) {
        throw new ConfigError(`API_KEYS entry ${i + 1}: expected name:scope[+scope]:secret`);
      }
      const parsed = scopes.split('+').map((s) => ApiKeyScope.safeParse(s));
      const bad = parsed.find((p) => !p.success);
      if (bad)
        throw new ConfigError(`API_KEYS entry ${i + 1} (${name}): scopes must be ingest and/or operator`);
      if (secret.length < 16)
        throw new ConfigError(`API_KEYS entry ${i + 1} (${name}): secret must be 16 characters or more`);
      return { name, scopes: parsed.map((p) => p.data!), sha256: hashApiKey(secret) };
    });
}

export function readApiKeysFile(path: string): ApiKeyEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`API_KEYS_FILE=${path}: cannot read JSON: ${(error as Error).message}`);
  }
  const parsed = ApiKeysFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`API_KEYS_FILE=${path}: entry ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export interface LoadedKeys {
  store: ApiKeyStore;
  /** Secrets generated on this start: printed once, never again. */
  generated: { name: string; scopes: string[]; secret: string }[];
  generatedFile?: string;
}

/**
 * Keys from API_KEYS and API_KEYS_FILE. With none configured outside production, the first start
 * generates an ingest and an operator key into the data folder (mode 0600) and returns their
 * secrets to be printed once; later starts load that file. In production, no keys is an error.
 */
export function loadApiKeys(
  config: Pick<EnvConfig, 'API_KEYS' | 'API_KEYS_FILE' | 'NODE_ENV' | 'DATABASE_PATH'>,
): LoadedKeys {
  const entries: ApiKeyEntry[] = [];
  if (config.API_KEYS) entries.push(...parseApiKeysVariable(config.API_KEYS));
  if (config.API_KEYS_FILE) entries.push(...readApiKeysFile(config.API_KEYS_FILE));
  if (entries.length > 0) return { store: new ApiKeyStore(entries.map(toKey)), generated: [] };
  if (config.NODE_ENV === 'production') {
    throw new ConfigError(
      'no API keys: set API_KEYS or API_KEYS_FILE (create one with `datasync keys create NAME --scope ingest`)',
    );
  }
  const file = join(dirname(config.DATABASE_PATH), 'api-keys.json');
  if (existsSync(file))
    return { store: new ApiKeyStore(readApiKeysFile(file).map(toKey)), generated: [], generatedFile: file };
  const generated = [
    { name: 'local-ingest', scopes: ['ingest'] as ApiKeyScope[], secret: newApiKeySecret() },
    { name: 'local-operator', scopes: ['operator'] as ApiKeyScope[], secret: newApiKeySecret() },
  ];
  const stored: ApiKeyEntry[] = generated.map((g) => ({
    name: g.name,
    scopes: g.scopes,
    sha256: hashApiKey(g.secret),
  }));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { store: new ApiKeyStore(stored.map(toKey)), generated, generatedFile: file };
}
