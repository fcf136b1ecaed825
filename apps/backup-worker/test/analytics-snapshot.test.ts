import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectDatabaseFile } from '@datasync/db';
import { Metrics } from '@datasync/runtime';
import { ConfigError, parseEnvConfig } from '@datasync/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { AnalyticsSnapshot, snapshotCheck, snapshotMetrics } from '../src/snapshot/analytics-snapshot.js';
import { ingest, makeTestBed, onCleanup, quietLogger, runCleanups } from './helpers.js';

afterEach(runCleanups);

const INTERVAL = 60_000;

/** A snapshot on a test bed with a clock the test moves. */
function snapshotBed(path?: string) {
  const bed = makeTestBed();
  const clock = { now: Date.parse('2026-12-01T12:00:00Z') };
  const snapshot = new AnalyticsSnapshot({
    writer: bed.deps.writer,
    databasePath: bed.dbPath,
    path: path ?? join(bed.dir, 'analytics', 'snapshot.duckdb'),
    intervalMs: INTERVAL,
    logger: quietLogger,
    now: () => clock.now,
  });
  onCleanup(() => snapshot.close());
  return { bed, clock, snapshot, path: snapshot.status().path };
}

const salesIn = async (path: string) => (await inspectDatabaseFile(path)).tables.sales;

describe('the analytics snapshot (ANALYTICS_SNAPSHOT_PATH)', () => {
  it('is a whole copy that opens on its own; refreshed after commits at most once per interval, not without them', async () => {
    const { bed, clock, snapshot, path } = snapshotBed();
    await ingest(bed.deps.writer, 'first', 120);
    await snapshot.tick();
    expect(await salesIn(path)).toBe(120);
    expect(snapshot.status()).toMatchObject({ behindSince: null, lastError: null, writtenAt: clock.now });
    const first = statSync(path);

    // No commit: no copy, however much time passes.
    clock.now += 5 * INTERVAL;
    await snapshot.tick();
    expect(statSync(path).ino).toBe(first.ino);

    // A commit: behind until the interval since the last copy has passed, then copied.
    await ingest(bed.deps.writer, 'second', 30);
    await snapshot.tick();
    clock.now += 1_000;
    await snapshot.tick();
    expect(await salesIn(path)).toBe(150);
    await ingest(bed.deps.writer, 'third', 5);
    clock.now += 1_000;
    await snapshot.tick();
    expect(await salesIn(path)).toBe(150);
    expect(snapshot.status().behindSince).toBe(clock.now);
    expect(snapshotCheck(snapshot.status(), clock.now)).toMatchObject({ status: 'ok' });
    expect(snapshotCheck(snapshot.status(), clock.now + 4 * INTERVAL + 60_000)).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/behind the database for 5 min/),
    });
    clock.now += INTERVAL;
    await snapshot.tick();
    expect(await salesIn(path)).toBe(155);
    expect(snapshot.status().behindSince).toBeNull();
  });

  it('is renamed in whole: a reader that opened the old file keeps reading it, a new reader sees the new one; the writer never waits on readers', async () => {
    const { bed, clock, snapshot, path } = snapshotBed();
    await ingest(bed.deps.writer, 'first', 10);
    await snapshot.tick();
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const reader = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
    const conn = await reader.connect();
    onCleanup(() => reader.closeSync());
    const count = async () =>
      Number((await conn.runAndReadAll('SELECT count(*) AS n FROM sales')).getRowObjects()[0]?.n);

    // The reader holds the snapshot open: commits and the next copy go on regardless.
    await ingest(bed.deps.writer, 'second', 20);
    clock.now += INTERVAL;
    await snapshot.tick();
    expect(snapshot.status().lastError).toBeNull();
    expect(await count()).toBe(10);
    expect(await salesIn(path)).toBe(30);
  });

  it('a copy that cannot be written keeps the old one, says why in the health check, and is tried again', async () => {
    const { bed, clock, snapshot } = snapshotBed();
    const blocker = join(bed.dir, 'not-a-folder');
    writeFileSync(blocker, 'x');
    const broken = new AnalyticsSnapshot({
      writer: bed.deps.writer,
      databasePath: bed.dbPath,
      path: join(blocker, 'snapshot.duckdb'),
      intervalMs: INTERVAL,
      logger: quietLogger,
      now: () => clock.now,
    });
    onCleanup(() => broken.close());
    await ingest(bed.deps.writer, 'first', 10);
    await broken.tick();
    expect(snapshotCheck(broken.status(), clock.now)).toMatchObject({
      name: 'analytics snapshot',
      status: 'fail',
      detail: expect.stringMatching(
        /not-a-folder\/snapshot\.duckdb could not be written: .*(ENOTDIR|EEXIST)/,
      ),
    });
    // Tried again at the next look, not only after the interval.
    clock.now += 1_000;
    await broken.tick();
    expect(broken.status()).toMatchObject({
      writtenAt: null,
      lastError: expect.stringMatching(/ENOTDIR|EEXIST/),
    });
    await snapshot.tick();
    expect(snapshotCheck(snapshot.status(), clock.now)).toMatchObject({ status: 'ok' });
  });

  it('shows its age and lag in the metrics', async () => {
    const { bed, snapshot } = snapshotBed();
    const metrics = new Metrics('backup-worker');
    snapshotMetrics(metrics, snapshot);
    await ingest(bed.deps.writer, 'first', 10);
    await snapshot.tick();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^datasync_analytics_snapshot_age_seconds \d/m);
    expect(text).toMatch(/^datasync_analytics_snapshot_behind_seconds 0$/m);
  });

  it('refuses a snapshot path that is the database itself, and a zero interval, naming the variable', () => {
    expect(() =>
      parseEnvConfig({ DATABASE_PATH: './data/x.duckdb', ANALYTICS_SNAPSHOT_PATH: 'data/x.duckdb' }),
    ).toThrow(/ANALYTICS_SNAPSHOT_PATH="data\/x.duckdb": must not be DATABASE_PATH/);
    expect(() => parseEnvConfig({ ANALYTICS_SNAPSHOT_INTERVAL_S: '0' })).toThrow(ConfigError);
    expect(() => parseEnvConfig({ ANALYTICS_SNAPSHOT_INTERVAL_S: '0' })).toThrow(
      /ANALYTICS_SNAPSHOT_INTERVAL_S/,
    );
  });
});
