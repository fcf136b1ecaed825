import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isolatedRedisUrl, spawnNode, tempDir } from '@datasync/testkit';
import { describe, expect, inject, it } from 'vitest';
import { loggableUrl } from '../src/plugins/request-log.js';
import { sales } from './helpers.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

// Every secret this run uses, each one unique so a hit names its leak.
const SECRETS = {
  ingestKey: 'ingest-LEAKCHECK-k3y-0001',
  operatorKey: 'operator-LEAKCHECK-k3y-0002',
  metricsToken: 'metrics-LEAKCHECK-t0k-0003',
  keyInQuery: 'query-LEAKCHECK-k3y-0004',
  tokenInQuery: 'query-LEAKCHECK-t0k-0005',
  wrongKey: 'wrong-LEAKCHECK-k3y-0006',
  basicPassword: 'basic-LEAKCHECK-pw-0007',
  userPassword: 'User-LEAKCHECK-Pw-0008',
  refusedUploadPassword: 'Refused-LEAKCHECK-Pw-0009',
  encodedQuery: 'enc LEAKCHECK/0010',
};

describe('the logs of a whole run', () => {
  it('hold none of the secrets the run used: keys in headers or in the query string, tokens, passwords', async () => {
    const dir = tempDir('datasync-logs-');
    const port = await freePort();
    const logFile = join(dir.path, 'logs', 'api.log');
    const api = spawnNode(MAIN, {
      REDIS_URL: await isolatedRedisUrl(inject('redisUrl')),
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      API_KEYS: `shop:ingest:${SECRETS.ingestKey},ops:operator:${SECRETS.operatorKey}`,
      METRICS_TOKEN: SECRETS.metricsToken,
      IMPORT_DIR: join(dir.path, 'imports'),
      DATABASE_PATH: join(dir.path, 'db.duckdb'),
      LOG_FILE: logFile,
      LOG_LEVEL: 'debug',
    });
    const base = `http://127.0.0.1:${port}`;
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    try {
      await api.waitForOutput(/api listening/);
      const statuses: number[] = [];
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(`${base}${path}`, init);
        statuses.push(res.status);
        await res.text();
      };
      await call(`/v1/rejects?api_key=${SECRETS.keyInQuery}`);
      await call(
        `/v1/sales/summary?groupBy=day&token=${SECRETS.tokenInQuery}&access_token=${SECRETS.keyInQuery}`,
        {
          headers: bearer(SECRETS.operatorKey),
        },
      );
      await call(`/v1/rejects?limit=5&key=${encodeURIComponent(SECRETS.encodedQuery)}`, {
        headers: bearer(SECRETS.wrongKey),
      });
      await call(`/v1/sales/batches?wait=false&apikey=${SECRETS.keyInQuery}`, {
        method: 'POST',
        headers: { ...bearer(SECRETS.ingestKey), 'content-type': 'application/json' },
        body: JSON.stringify(sales(2)),
      });
      await call('/admin/queues', {
        headers: {
          authorization: `Basic ${Buffer.from(`admin:${SECRETS.basicPassword}`).toString('base64')}`,
        },
      });
      await call(`/metrics?token=${SECRETS.metricsToken}`);
      await call('/metrics', { headers: bearer(SECRETS.metricsToken) });
      await call('/v1/jobs/user-import', {
        method: 'POST',
        headers: { ...bearer(SECRETS.operatorKey), 'content-type': 'text/csv' },
        body: `username,email,role,initial_password\nann,ann@example.com,user,${SECRETS.userPassword}\n`,
      });
      await call('/v1/jobs/health-check', {
        method: 'POST',
        headers: { ...bearer(SECRETS.operatorKey), 'content-type': 'text/csv' },
        body: `username,email,role,initial_password\nbo,bo@example.com,user,${SECRETS.refusedUploadPassword}\n`,
      });
      await call('/v1/jobs/restore', {
        method: 'POST',
        headers: { ...bearer(SECRETS.operatorKey), 'content-type': 'application/json' },
        body: JSON.stringify({ name: '../x', password: SECRETS.userPassword }),
      });
      expect(statuses).toEqual([401, 503, 401, 202, 401, 401, 200, 202, 415, 400]);
    } finally {
      api.kill('SIGTERM');
      await api.exited();
    }
    const logs = `${api.output()}\n${readFileSync(logFile, 'utf8')}`;
    // The run was logged (so the scan below means something), with the query values redacted.
    expect(logs).toMatch(/"url":"\/v1\/rejects\?api_key=\[redacted\]"/);
    expect(logs).toMatch(/"url":"\/v1\/sales\/batches\?wait=false&apikey=\[redacted\]"/);
    const leaked = Object.entries(SECRETS).filter(
      ([, secret]) => logs.includes(secret) || logs.includes(encodeURIComponent(secret)),
    );
    expect(leaked.map(([name]) => name)).toEqual([]);
    dir.cleanup();
  });
});

describe('the URL as logged', () => {
  it("keeps the values of the api's own query parameters, and hides any other", () => {
    expect(
      loggableUrl(
        '/v1/sales/analytics?from=2026-01-01&to=2026-01-31&bucket=week&top=5&region=EU&product=Desk',
      ),
    ).toBe('/v1/sales/analytics?from=2026-01-01&to=2026-01-31&bucket=week&top=5&region=EU&product=Desk');
    expect(loggableUrl('/v1/rejects?reason=date&newest=true&token=abc&bucket')).toBe(
      '/v1/rejects?reason=date&newest=true&token=[redacted]&bucket',
    );
    expect(loggableUrl('/v1/rejects?%E0%A4%A=x')).toBe('/v1/rejects?%E0%A4%A=[redacted]');
  });
});
