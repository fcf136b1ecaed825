import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, parseEnvConfig } from '../src/env.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Documented beside the schema's variables because other programs read them; the processes do not. */
const OTHER_PROGRAMS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'DATASYNC_URL',
  'DATASYNC_API_KEY',
  'UV_THREADPOOL_SIZE',
  'COMPOSE_PROFILES',
];

const envExample = read('.env.example');
const configurationDoc = read('docs/configuration.md');

/** `NAME=value` and `# NAME=value` lines: set, or shown with their default. */
const exampleNames = new Set(
  [...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string),
);
/** Table rows: | `NAME` | default | meaning | */
const docRows = new Map(
  [...configurationDoc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/gm)].map((m) => [
    m[1] as string,
    (m[2] as string).trim(),
  ]),
);
const known = new Set<string>([...ENV_VARIABLES, ...OTHER_PROGRAMS]);

describe('the configuration is documented where operators look', () => {
  it('every variable of the config schema is in .env.example and in docs/configuration.md', () => {
    expect(ENV_VARIABLES.filter((name) => !exampleNames.has(name))).toEqual([]);
    expect(ENV_VARIABLES.filter((name) => !docRows.has(name))).toEqual([]);
  });

  it('.env.example and docs/configuration.md name no variable the schema does not know', () => {
    expect([...exampleNames].filter((name) => !known.has(name))).toEqual([]);
    expect([...docRows.keys()].filter((name) => !known.has(name))).toEqual([]);
    expect(OTHER_PROGRAMS.filter((name) => (ENV_VARIABLES as string[]).includes(name))).toEqual([]);
  });

  it('the defaults docs/configuration.md states are the ones the schema applies', () => {
    const defaults = parseEnvConfig({}) as Record<string, unknown>;
    const wrong = ENV_VARIABLES.flatMap((name) => {
      const cell = docRows.get(name);
      const expected = defaults[name] === undefined ? '(none)' : `\`${String(defaults[name])}\``;
      return cell === expected ? [] : [`${name}: documented ${cell}, schema ${expected}`];
    });
    expect(wrong).toEqual([]);
  });

  it('the values .env.example sets are a valid configuration', () => {
    const set = parseEnv(envExample);
    const config = parseEnvConfig(set);
    expect(config.NODE_ENV).toBe('production');
  });

  it('nginx takes exactly the sales batch body size the api takes', () => {
    const nginx = read('infra/nginx/nginx.conf');
    const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
    const limits = [...nginx.matchAll(/^\s*client_max_body_size\s+(\d+)([kmg]?);/gim)].map(
      (m) => Number(m[1]) * (units[(m[2] as string).toLowerCase()] as number),
    );
    // 0 (no limit) is the streamed CSV upload location; every other limit is the batch limit.
    const batchLimits = limits.filter((bytes) => bytes !== 0);
    expect(batchLimits.length).toBeGreaterThan(0);
    for (const bytes of batchLimits) expect(bytes).toBe(parseEnvConfig({}).MAX_BODY_BYTES);
  });
});
