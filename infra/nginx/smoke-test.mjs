// Serves infra/nginx/nginx.conf for real on loopback in front of a stub api and checks what clients
// of the proxy rely on: TLS, the HTTP->HTTPS redirect, the batch body limit answered as
// problem+json, streamed CSV uploads past that limit, a dead api answered as 503 + Retry-After,
// /metrics kept private. Used by scripts/check-infra.mjs (plain Node, no dependencies).
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';

const MiB = 1024 * 1024;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The stub api: records what reached it, counts body bytes, and can drop a connection. */
function startStub(seen) {
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, proto: req.headers['x-forwarded-proto'] });
    if (req.url === '/down') return req.socket.destroy();
    let bytes = 0;
    req.on('data', (chunk) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      const status = req.url.startsWith('/admin/queues') ? 401 : req.method === 'POST' ? 202 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function request(base, path, { method = 'GET', body, chunks } = {}) {
  const url = new URL(path, base);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method, rejectUnauthorized: false, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (body) req.setHeader('content-length', body.length);
    if (body) req.write(body);
    if (chunks) for (let i = 0; i < chunks.count; i++) req.write(Buffer.alloc(chunks.size, 97));
    req.end();
  });
}

async function waitUntilServing(base, child) {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode}`);
    try {
      if ((await request(base, '/nginx-health')).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('nginx did not answer within 10 s');
}

function stopNginx(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function expect(condition, message, response) {
  if (!condition)
    throw new Error(
      `${message}; got ${response ? `${response.status} ${response.text.slice(0, 200)}` : 'nothing'}`,
    );
}

export async function smokeTestNginx({ makeConf, dir }) {
  const seen = [];
  const stub = await startStub(seen);
  const ports = { upstream: stub.address().port, http: await freePort(), https: await freePort() };
  const conf = makeConf(ports);
  let stderr = '';
  const child = spawn('nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const plain = `http://127.0.0.1:${ports.http}`;
  const tls = `https://127.0.0.1:${ports.https}`;
  try {
    await waitUntilServing(plain, child).catch((error) => {
      throw new Error(`${error.message}\n${stderr}`);
    });
    let r = await request(plain, '/v1/jobs/1');
    expect(
      r.status === 308 && r.headers.location?.startsWith('https://'),
      'plain HTTP should redirect to HTTPS',
      r,
    );

    r = await request(tls, '/health');
    expect(r.status === 200, 'GET /health over TLS should reach the api', r);
    expect(seen.at(-1)?.proto === 'https', 'the api should see X-Forwarded-Proto: https');

    r = await request(tls, '/v1/sales/batches', { method: 'POST', body: Buffer.alloc(MiB, 97) });
    expect(r.status === 202 && JSON.parse(r.text).bytes === MiB, 'a 1 MiB batch should pass whole', r);

    r = await request(tls, '/v1/sales/batches', { method: 'POST', body: Buffer.alloc(10 * MiB + 1, 97) });
    expect(r.status === 413, 'a batch over 10 MiB should be 413', r);
    expect(
      r.headers['content-type']?.startsWith('application/problem+json'),
      'the 413 should be problem+json',
      r,
    );
    expect(JSON.parse(r.text).status === 413, 'the 413 body should be a problem', r);

    r = await request(tls, '/v1/sales/imports', { method: 'POST', chunks: { count: 24, size: MiB / 2 } });
    expect(
      r.status === 202 && JSON.parse(r.text).bytes === 12 * MiB,
      'a 12 MiB CSV upload should stream through',
      r,
    );

    r = await request(tls, '/down');
    expect(
      r.status === 503 && r.headers['retry-after'] === '5',
      'a dead api should be 503 with Retry-After',
      r,
    );
    expect(
      r.headers['content-type']?.startsWith('application/problem+json'),
      'the 503 should be problem+json',
      r,
    );

    r = await request(tls, '/admin/queues');
    expect(r.status === 401, "Bull Board should reach the api's auth", r);

    const before = seen.length;
    r = await request(tls, '/metrics');
    expect(r.status === 404 && seen.length === before, '/metrics should not be served to the outside', r);
    return 'TLS, redirect, 413 problem+json, streamed upload, 503 + Retry-After, /metrics private';
  } finally {
    await stopNginx(child);
    await new Promise((r) => stub.close(r));
  }
}
