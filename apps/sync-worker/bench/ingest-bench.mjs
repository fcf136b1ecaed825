// End-to-end ingest benchmark: HTTP -> queue -> committed in DuckDB, 1,000-row batches from
// several concurrent clients, against the real api and sync-worker processes (built dist) and a
// redis-server of its own (appendfsync always, as the stack runs it). In the same run: the raw
// DuckDB Appender rate for the same rows, the ratio, receipt latency p50/p99 at half the peak,
// and one against two sync-workers (a leader and a standby): rows/s, writer lock handovers/s and
// receipt latency, alternated BENCH_ROUNDS times so machine noise hits both alike; in the same
// rounds, two api processes sharing one port (Node's cluster, this process the primary) in front
// of one sync-worker. Then the leading one of two sync-workers is SIGKILLed under load
// (BENCH_KILL_AFTER seconds in): the time until the standby commits again, and whether every
// accepted (202) batch is in DuckDB exactly once.
//
//   node apps/sync-worker/bench/ingest-bench.mjs
//     (BENCH_SECONDS=20 BENCH_CLIENTS=8 BENCH_ROUNDS=2 BENCH_KILL_AFTER=5 BENCH_KILL=0 to skip it)
//     BENCH_APPENDFSYNC=everysec: Redis without an fsync per write (the stack runs `always`)
//     BENCH_PROFILE=sync-worker (or api): V8 CPU profiles of that process into the current folder,
//     one per start; `node scripts/cpu-profile-summary.mjs CPU.*.cpuprofile` says where time went.
import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS } from '@datasync/db';
import { EVENTS_CHANNEL } from '@datasync/runtime';
import { freePort, startLocalRedis } from '@datasync/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const ROWS = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const KILL_AFTER = Number(process.env.BENCH_KILL_AFTER ?? 5);
const KILL = process.env.BENCH_KILL !== '0';
// The sync-worker's default: the standby takes over once the dead leader's lease runs out.
const LEASE_MS = 15_000;
// Redis's AOF fsync policy: `always` as the stack runs it; `everysec` shows what fsync costs a receipt.
const APPENDFSYNC = process.env.BENCH_APPENDFSYNC ?? 'always';

function sales(n, offset) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    const q = (k % 5) + 1;
    const cents = 1000 + (k % 997);
    out.push({
      date: '2026-01-15',
      user_id: (k % 1000) + 1,
      product_name: `Product ${k % 50}`,
      quantity: q,
      unit_price: (cents / 100).toFixed(2),
      total_amount: ((cents * q) / 100).toFixed(2),
      region: ['EU', 'NA', 'APAC'][k % 3],
    });
  }
  return out;
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function rawAppenderRate(dir, rows) {
  const instance = await DuckDBInstance.create(join(dir, 'raw.duckdb'));
  const conn = await instance.connect();
  for (const m of MIGRATIONS) await conn.run(m.sql);
  const total = 200_000;
  const started = performance.now();
  await conn.run('BEGIN');
  const appender = await conn.createAppender('sales');
  const now = new Date().toISOString();
  for (let i = 0; i < total; i++) {
    const s = rows[i % rows.length];
    appender.appendVarchar('raw');
    appender.appendNull();
    appender.appendVarchar(s.date);
    appender.appendBigInt(BigInt(s.user_id));
    appender.appendVarchar(s.product_name);
    appender.appendInteger(s.quantity);
    appender.appendVarchar(s.unit_price);
    appender.appendVarchar(s.total_amount);
    appender.appendVarchar(s.region);
    appender.appendVarchar('raw-batch');
    appender.appendVarchar(now);
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
  await conn.run('COMMIT');
  const seconds = (performance.now() - started) / 1000;
  conn.disconnectSync();
  instance.closeSync();
  return total / seconds;
}

function post(agent, port, key, body, idem) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        agent,
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/v1/sales/batches',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${key}`,
          'idempotency-key': idem,
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            ms: performance.now() - started,
            retryAfter: Number(res.headers['retry-after'] ?? 0),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function load({ port, key, seconds, clients, ratePerSecond }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const body = Buffer.from(JSON.stringify(sales(ROWS, 0)));
  const latencies = [];
  let accepted = 0;
  let throttled = 0;
  let seq = 0;
  const deadline = Date.now() + seconds * 1000;
  const interval = ratePerSecond ? (1000 * clients) / ratePerSecond : 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let next = Date.now() + (interval * c) / clients;
      while (Date.now() < deadline) {
        if (interval) {
          const wait = next - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += interval;
        }
        const r = await post(agent, port, key, body, `bench-${process.pid}-${seq++}`);
        if (r.status === 202) {
          accepted++;
          latencies.push(r.ms);
        } else if (r.status === 429) {
          throttled++;
          await new Promise((res) => setTimeout(res, 50));
        } else throw new Error(`unexpected status ${r.status}`);
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { accepted, throttled, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** CPU seconds (user + system) a child has used so far, from /proc. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * `count` api processes on one port: cluster workers forked by this process, which hands each
 * accepted connection to one of them (round-robin); with keep-alive that is once per client.
 */
function startClusterApis(script, env, count) {
  cluster.setupPrimary({ exec: script, silent: true });
  return Array.from({ length: count }, () => {
    const worker = cluster.fork(env);
    let out = '';
    worker.process.stdout.on('data', (d) => (out += d));
    worker.process.stderr.on('data', (d) => (out += d));
    return { child: worker.process, output: () => out };
  });
}

function startProcess(script, env) {
  // BENCH_PROFILE=sync-worker (or api) writes a V8 CPU profile of that process into the cwd.
  const profile =
    process.env.BENCH_PROFILE && script.includes(`/${process.env.BENCH_PROFILE}/`) ? ['--cpu-prof'] : [];
  const child = spawn(process.execPath, [...profile, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitFor(fn, ms = 60_000) {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

async function countRows(dbPath) {
  const instance = await DuckDBInstance.create(dbPath);
  const conn = await instance.connect();
  const r = (
    await conn.runAndReadAll(
      `SELECT (SELECT count(*) FROM sales)::BIGINT AS n,
              (SELECT count(*) FROM ingest_batches)::BIGINT AS batches,
              (SELECT count(DISTINCT batch_id) FROM ingest_batches)::BIGINT AS distinct_batches`,
    )
  ).getRowObjects()[0];
  conn.disconnectSync();
  instance.closeSync();
  return { rows: Number(r.n), batches: Number(r.batches), distinctBatches: Number(r.distinct_batches) };
}

const exited = (child) =>
  new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));

/**
 * SIGKILLs the leading sync-worker `afterSeconds` into the load, then waits for the first commit
 * after the kill (the commit events every sync-worker publishes): that one is the standby's.
 */
async function killLeader(workers, redisUrl, afterSeconds) {
  const sub = new Redis(redisUrl);
  let firstCommitAt = null;
  let killedWall = Number.POSITIVE_INFINITY;
  sub.on('message', (_channel, message) => {
    if (firstCommitAt !== null) return;
    const event = JSON.parse(message);
    if (event.type === 'commit' && Date.parse(event.at) > killedWall) firstCommitAt = performance.now();
  });
  await sub.subscribe(EVENTS_CHANNEL);
  await new Promise((r) => setTimeout(r, afterSeconds * 1000));
  const leader = workers.find((w) => /leading: taking jobs/.test(w.output()));
  const standby = workers.find((w) => w !== leader);
  killedWall = Date.now();
  const killedAt = performance.now();
  leader.child.kill('SIGKILL');
  await exited(leader.child);
  // The dead leader's jobs under way: back in the queue once their locks run out.
  const { Queue } = await import('bullmq');
  const queue = new Queue('ingest', { connection: { url: redisUrl }, prefix: 'datasync' });
  const { active: inFlight } = await queue.getJobCounts('active');
  await queue.close();
  await waitFor(async () => firstCommitAt !== null, LEASE_MS * 4);
  // The standby's own lines after the kill, from its log's time field.
  const timeOf = (l) => Number(/"time":(\d+)/.exec(l)?.[1] ?? Date.parse(/"time":"([^"]+)"/.exec(l)?.[1]));
  const after = (pattern) => {
    const line = standby
      .output()
      .split('\n')
      .find((l) => pattern.test(l) && timeOf(l) >= killedWall);
    return line ? (timeOf(line) - killedWall) / 1000 : Number.NaN;
  };
  await sub.quit();
  return {
    takeoverSeconds: (firstCommitAt - killedAt) / 1000,
    leadingAfterSeconds: after(/leading: taking jobs/),
    writerLockAfterSeconds: after(/writer lock acquired/),
    inFlight,
  };
}

async function e2e(dir, phase) {
  const redis = await startLocalRedis({ dir: join(dir, `redis-${phase.name}`), appendfsync: APPENDFSYNC });
  const port = await freePort();
  const key = 'bench-ingest-key-0123456789';
  const env = {
    REDIS_URL: redis.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_PATH: join(dir, `${phase.name}.duckdb`),
    IMPORT_DIR: join(dir, 'imports'),
    API_KEYS: `bench:ingest+operator:${key}`,
    MAX_INGEST_BACKLOG: '100000',
    WRITER_LOCK_IDLE_RELEASE_MS: '0',
  };
  if (phase.backlog) env.MAX_INGEST_BACKLOG = String(phase.backlog);
  const apiMain = join(root, 'apps/api/dist/main.js');
  const apis =
    (phase.apis ?? 1) > 1 ? startClusterApis(apiMain, env, phase.apis) : [startProcess(apiMain, env)];
  // Info level for the workers: the writer lock's acquire and release lines are counted.
  const workers = Array.from({ length: phase.workers ?? 1 }, () =>
    startProcess(join(root, 'apps/sync-worker/dist/main.js'), { ...env, LOG_LEVEL: 'info' }),
  );
  const { Queue } = await import('bullmq');
  const queue = new Queue('ingest', { connection: { url: redis.url }, prefix: 'datasync' });
  await waitFor(async () => apis.every((a) => /datasync api:/.test(a.output())));
  await waitFor(async () => workers.every((w) => /sync-worker started/.test(w.output())));
  await waitFor(async () => workers.some((w) => /leading: taking jobs/.test(w.output())));
  const started = performance.now();
  const [result, kill] = await Promise.all([
    load({ port, key, seconds: phase.seconds, clients: CLIENTS, ratePerSecond: phase.rate }),
    phase.killAfter ? killLeader(workers, redis.url, phase.killAfter) : null,
  ]);
  const loadSeconds = (performance.now() - started) / 1000;
  await waitFor(async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    return c.waiting + c.active + c.delayed === 0;
  }, 300_000);
  const committedSeconds = (performance.now() - started) / 1000;
  const cpu = {
    api: apis.reduce((sum, a) => sum + cpuSeconds(a.child.pid), 0),
    worker: workers.reduce((sum, w) => sum + cpuSeconds(w.child.pid), 0),
    redis: cpuSeconds(redis.process.pid),
  };
  // A handover is a release while work went on (not the shutdown's own release).
  const releases = workers.flatMap(
    (w) => w.output().match(/"reason":"(?!shutdown)[^"]*"[^\n]*writer lock released/g) ?? [],
  );
  const counts = await queue.getJobCounts('failed', 'completed');
  await queue.close();
  for (const w of workers) w.child.kill('SIGTERM');
  for (const a of apis) a.child.kill('SIGTERM');
  await Promise.all([...apis, ...workers].map((p) => exited(p.child)));
  const { rows, batches, distinctBatches } = await countRows(env.DATABASE_PATH);
  await redis.stop();
  return {
    ...result,
    rows,
    batches,
    distinctBatches,
    kill,
    cpu,
    failedJobs: counts.failed,
    loadSeconds,
    committedSeconds,
    rowsPerSecond: rows / committedSeconds,
    handoversPerSecond: releases.length / committedSeconds,
    committers: workers.filter((w) => /writer lock acquired/.test(w.output())).length,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-'));
try {
  const raw = await rawAppenderRate(dir, sales(ROWS, 0));
  // One and two sync-workers alternately, so the shared machine's noise falls on both.
  const one = [];
  const two = [];
  const twoApis = [];
  for (let r = 0; r < ROUNDS; r++) {
    one.push(await e2e(dir, { name: `one-${r}`, seconds: SECONDS, workers: 1 }));
    two.push(await e2e(dir, { name: `two-${r}`, seconds: SECONDS, workers: 2 }));
    twoApis.push(await e2e(dir, { name: `apis-${r}`, seconds: SECONDS, workers: 1, apis: 2 }));
  }
  const peak = one.reduce((best, p) => (p.rowsPerSecond > best.rowsPerSecond ? p : best));
  const half = await e2e(dir, {
    name: 'half',
    seconds: Math.max(5, Math.round(SECONDS / 2)),
    rate: peak.rowsPerSecond / 2 / ROWS,
  });
  // Load on past the lease and a few seconds more, so the standby commits under load. A small
  // backlog limit: while nobody commits, the api answers 429 instead of piling batches in Redis.
  const killed = KILL
    ? await e2e(dir, {
        name: 'kill',
        seconds: KILL_AFTER + LEASE_MS / 1000 + 10,
        workers: 2,
        killAfter: KILL_AFTER,
        backlog: 500,
      })
    : null;
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`\ningest benchmark (${CLIENTS} clients, ${ROWS}-row batches, ${SECONDS}s at peak)`);
  console.log(
    `  end-to-end committed      ${fmt(peak.rowsPerSecond)} rows/s  (${fmt(peak.rows)} rows, ${peak.failedJobs} failed jobs, ${peak.throttled} x 429)`,
  );
  console.log(`  raw DuckDB Appender       ${fmt(raw)} rows/s`);
  console.log(`  ratio                     ${((peak.rowsPerSecond / raw) * 100).toFixed(1)}%`);
  console.log(`  receipt latency at peak   p50 ${peak.p50.toFixed(1)} ms, p99 ${peak.p99.toFixed(1)} ms`);
  console.log(
    `  CPU seconds at peak       api ${peak.cpu.api.toFixed(1)}, sync-worker ${peak.cpu.worker.toFixed(1)}, redis ${peak.cpu.redis.toFixed(1)} over ${peak.committedSeconds.toFixed(1)} s (2 cores, the load client too)`,
  );
  // The machine is CPU-bound at peak: what each committed row cost every process (startup
  // included) bounds the end-to-end rate at two cores' worth of it, against the Appender's own.
  const perRow = (seconds) => ((seconds * 1e6) / peak.rows).toFixed(1);
  const rowCost = (peak.cpu.api + peak.cpu.worker + peak.cpu.redis) / peak.rows;
  console.log(
    `  CPU per committed row     api ${perRow(peak.cpu.api)} us, sync-worker ${perRow(peak.cpu.worker)} us, redis ${perRow(peak.cpu.redis)} us; the Appender alone ${(1e6 / raw).toFixed(1)} us (so 2 cores carry at most ${fmt(2 / rowCost)} rows/s end to end)`,
  );
  console.log(
    `  receipt latency at half   p50 ${half.p50.toFixed(1)} ms, p99 ${half.p99.toFixed(1)} ms  (${fmt(half.rowsPerSecond)} rows/s offered)`,
  );
  const row = (label, runs) =>
    console.log(
      `  ${label} ${fmt(median(runs.map((p) => p.rowsPerSecond)))} rows/s, ${median(runs.map((p) => p.handoversPerSecond)).toFixed(2)} lock handovers/s, receipt p50 ${median(runs.map((p) => p.p50)).toFixed(1)} ms, p99 ${median(runs.map((p) => p.p99)).toFixed(1)} ms  (runs: ${runs.map((p) => fmt(p.rowsPerSecond)).join(', ')}; ${runs.map((p) => p.committers).join(', ')} committing)`,
    );
  console.log(`\none vs two sync-workers (${ROUNDS} alternated rounds of ${SECONDS}s, medians)`);
  row('one sync-worker ', one);
  row('two sync-workers', two);
  const ratios = one.map((p, i) => two[i].rowsPerSecond / p.rowsPerSecond);
  console.log(
    `  two / one                 ${((median(two.map((p) => p.rowsPerSecond)) / median(one.map((p) => p.rowsPerSecond))) * 100).toFixed(1)}% (per round: ${ratios.map((x) => `${(x * 100).toFixed(1)}%`).join(', ')})`,
  );
  const apiRow = (label, runs) =>
    console.log(
      `  ${label} ${fmt(median(runs.map((p) => p.rowsPerSecond)))} rows/s, receipt p50 ${median(runs.map((p) => p.p50)).toFixed(1)} ms, p99 ${median(runs.map((p) => p.p99)).toFixed(1)} ms, api CPU ${median(runs.map((p) => p.cpu.api)).toFixed(1)} s  (runs: ${runs.map((p) => fmt(p.rowsPerSecond)).join(', ')})`,
    );
  console.log(
    `\none vs two api processes on one port (cluster), one sync-worker (same ${ROUNDS} rounds, medians)`,
  );
  apiRow('one api process  ', one);
  apiRow('two api processes', twoApis);
  const apiRatios = one.map((p, i) => twoApis[i].rowsPerSecond / p.rowsPerSecond);
  console.log(
    `  two / one                 ${((median(twoApis.map((p) => p.rowsPerSecond)) / median(one.map((p) => p.rowsPerSecond))) * 100).toFixed(1)}% (per round: ${apiRatios.map((x) => `${(x * 100).toFixed(1)}%`).join(', ')})`,
  );
  let intact = true;
  if (killed) {
    const expected = killed.accepted * ROWS;
    intact =
      killed.rows === expected &&
      killed.batches === killed.accepted &&
      killed.distinctBatches === killed.batches &&
      killed.failedJobs === 0;
    console.log(
      `\nleading sync-worker SIGKILLed ${KILL_AFTER}s into the load (two sync-workers, lease ${LEASE_MS / 1000} s)`,
    );
    console.log(
      `  takeover                  ${killed.kill.takeoverSeconds.toFixed(1)} s to the standby's first commit (leading after ${killed.kill.leadingAfterSeconds.toFixed(1)} s, writer lock after ${killed.kill.writerLockAfterSeconds.toFixed(1)} s; ${killed.kill.inFlight} batches were under way in the killed one)`,
    );
    console.log(
      `  rows expected vs found    ${fmt(expected)} (${fmt(killed.accepted)} batches x 202) vs ${fmt(killed.rows)} in sales; ${fmt(killed.batches)} in the ledger, ${killed.batches - killed.distinctBatches} duplicate batch_id; ${killed.failedJobs} failed jobs, ${killed.throttled} x 429  ${intact ? 'OK' : 'LOST OR DOUBLED'}`,
    );
  }
  console.log(JSON.stringify({ bench: 'ingest', raw, peak, half, one, two, twoApis, killed }));
  if (!intact) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
