#!/usr/bin/env node
// Where a process spent its CPU: reads V8 CPU profiles (`node --cpu-prof`, or the ingest benchmark
// with BENCH_PROFILE=sync-worker or BENCH_PROFILE=api) and prints the busy time by package and the
// functions with the most self time.
//
//   node scripts/cpu-profile-summary.mjs CPU.*.cpuprofile [--top 20]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 20;
if (args.length === 0 || !Number.isInteger(top) || top < 1) {
  console.error('usage: node scripts/cpu-profile-summary.mjs FILE.cpuprofile... [--top N]');
  process.exit(2);
}

const PACKAGES = [
  ['@duckdb', 'duckdb (node-api, the Appender and queries)'],
  ['bullmq', 'bullmq'],
  ['ioredis', 'ioredis'],
  ['fastify', 'fastify'],
  ['zod', 'zod'],
  ['pino', 'pino'],
];

/** The part of the code a frame belongs to: a package, a folder of ours, node's own, or V8's. */
function partOf(url, name) {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'native, outside JS';
  if (url === '') return 'V8 builtins';
  for (const [needle, label] of PACKAGES) if (url.includes(`/${needle}`)) return label;
  const ours = url.match(/\/(packages|apps)\/([^/]+)\//);
  if (ours && !url.includes('/node_modules/')) return `${ours[1]}/${ours[2]}`;
  if (url.startsWith('node:')) return 'node core';
  const dep = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  return dep ? dep[1] : 'other';
}

const pct = (part, whole) => `${((100 * part) / whole).toFixed(1).padStart(5)}%`;

for (const file of args) {
  let profile;
  try {
    profile = JSON.parse(readFileSync(file, 'utf8'));
    if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples))
      throw new Error('no nodes or samples');
  } catch (error) {
    console.error(`${file}: not a V8 CPU profile (${error.message})`);
    process.exitCode = 1;
    continue;
  }
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfTime = new Map();
  profile.samples.forEach((id, i) => {
    selfTime.set(id, (selfTime.get(id) ?? 0) + profile.timeDeltas[i]);
  });
  const byPart = new Map();
  const byFunction = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, micros] of selfTime) {
    const frame = frames.get(id);
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    busy += micros;
    const part = partOf(frame.url, frame.functionName);
    byPart.set(part, (byPart.get(part) ?? 0) + micros);
    const fn = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
  }
  console.log(`${file}: busy ${(busy / 1e6).toFixed(1)} s of ${((busy + idle) / 1e6).toFixed(1)} s sampled`);
  for (const [part, micros] of [...byPart].sort((a, b) => b[1] - a[1])) {
    if (micros / busy >= 0.005) console.log(`  ${pct(micros, busy)}  ${part}`);
  }
  console.log(`  functions with the most self time:`);
  for (const [fn, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${pct(micros, busy)}  ${fn}`);
  }
}
