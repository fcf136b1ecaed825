import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * Every Lua script of ours, kept as a file in src/lua (copied to dist/lua by the build) and
 * loaded here once, at import: an app whose build lacks one fails at start, not mid-job.
 * Each script's header says its KEYS, ARGV and answer; shared Lua lives in lua/includes.
 */
const NAMES = [
  'compare-and-set',
  'create-or-get',
  'delete-if-equal',
  'hash-set-if-newer',
  'lease-renew',
  'schedule-claim',
  'stream-trim-committed',
  'writer-lock-acquire',
  'writer-lock-waiters',
] as const;

export type ScriptName = (typeof NAMES)[number];

const read = (path: string) => readFileSync(new URL(`./lua/${path}.lua`, import.meta.url), 'utf8');

/** A line `-- @include NAME` takes the text of lua/includes/NAME.lua (as BullMQ's commands do). */
const withIncludes = (source: string) =>
  source.replace(/^-- @include (\S+)$/gm, (_, name: string) => read(`includes/${name}`).trimEnd());

const SOURCES = new Map<ScriptName, string>(NAMES.map((name) => [name, withIncludes(read(name))]));

/** Runs one of our scripts (EVAL: a Redis that restarted without its script cache still runs it). */
export function runScript(
  redis: Redis,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  return redis.eval(SOURCES.get(name) as string, keys.length, ...keys, ...args);
}
