import { Metrics, MetricsPublisher, writerObserver } from '@datasync/runtime';
import { QUEUES } from '@datasync/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { auth, makeApi, OPERATOR_KEY } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function api(env: Record<string, string> = {}) {
  const built = await makeApi(env);
  cleanups.push(built.close);
  return built;
}

describe('GET /metrics', () => {
  it('serves Prometheus text with queue depth and the workers’ published metrics, without auth by default', async () => {
    const { app, deps } = await api();
    await deps.queues.get(QUEUES.backup)!.add('backup', {});
    const worker = new Metrics('sync-worker');
    writerObserver(worker).lockWaited(250);
    worker.rowsAccepted.inc(1234);
    const publisher = new MetricsPublisher({ redis: deps.redis, metrics: worker, intervalMs: 60_000 });
    await publisher.publish();
    cleanups.push(() => publisher.close());

    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^datasync_queue_jobs\{queue="backup",state="waiting"} 1$/m);
    expect(res.body).toMatch(/^datasync_writer_lock_wait_seconds_count\{process="sync-worker"} 1$/m);
    expect(res.body).toMatch(/^datasync_rows_accepted_total 1234$/m);
    expect(res.body).toMatch(/^# TYPE datasync_job_duration_seconds histogram$/m);
    expect(res.body).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('with METRICS_TOKEN set, wants it as a Bearer token', async () => {
    const { app } = await api({ METRICS_TOKEN: 'scrape-token-0123456789' });
    const none = await app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toMatch(/application\/problem\+json/);
    const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: auth(OPERATOR_KEY) });
    expect(wrong.statusCode).toBe(401);
    const right = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: auth('scrape-token-0123456789'),
    });
    expect(right.statusCode).toBe(200);
    expect(right.body).toMatch(/datasync_queue_jobs/);
  });
});
