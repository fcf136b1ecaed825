import { existsSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_KEY, makeApi, OPERATOR_KEY, sales } from './helpers.js';

/** "Does not hang" bound for the slow clients below (the timeouts themselves are 300-1500 ms). */
const BOUND_MS = 8_000;

let api: Awaited<ReturnType<typeof makeApi>>;
let port: number;
beforeAll(async () => {
  api = await makeApi({
    HTTP_HEADERS_TIMEOUT_MS: '500',
    HTTP_BODY_TIMEOUT_MS: '500',
    HTTP_BODY_MIN_BYTES: '1024',
    HTTP_IDLE_TIMEOUT_MS: '1500',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '500',
    WAIT_TIMEOUT_MS: '300',
  });
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  port = (api.app.server.address() as { port: number }).port;
});
afterAll(() => api.close());

const leftInImportDir = () =>
  existsSync(api.config.IMPORT_DIR) ? readdirSync(api.config.IMPORT_DIR, { recursive: true }) : [];

/** A raw client: writes `head` then trickles `trickle` one byte every 100 ms until the server closes. */
function slowClient(head: string, trickle: string) {
  const socket: Socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => {
    answer += d.toString();
  });
  socket.on('error', () => undefined);
  const started = Date.now();
  const closed = new Promise<{ answer: string; ms: number }>((resolve) => {
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    });
  });
  let i = 0;
  socket.write(head);
  const timer = setInterval(() => {
    if (socket.writable) socket.write(trickle[i++ % trickle.length]!);
  }, 100);
  return closed;
}

describe('slow clients are cut, real ones are not (a real listening server, short timeouts)', () => {
  it('headers trickled a byte at a time: 408 and closed', async () => {
    const { answer, ms } = await slowClient(
      'POST /v1/sales/batches HTTP/1.1\r\nHost: x\r\n',
      'X-Slow: yes\r\n',
    );
    expect(ms).toBeLessThan(BOUND_MS);
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('a JSON body trickled at 10 bytes/s: 408 problem, connection closed', async () => {
    const body = JSON.stringify(sales(5));
    const head = `POST /v1/sales/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${INGEST_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { answer, ms } = await slowClient(head, body);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer).toMatch(/slower than 1024 bytes per 500 ms/);
  });

  it('an upload trickled at 10 bytes/s: 408, closed, nothing left in IMPORT_DIR', async () => {
    const head = `POST /v1/sales/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR_KEY}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\ndate,region\n`;
    const { answer, ms } = await slowClient(head, '2026-01-01,EU\n');
    expect(ms).toBeLessThan(BOUND_MS);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(leftInImportDir()).toEqual([]);
  });

  it('a connection that sends nothing is closed', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const started = Date.now();
    await new Promise((resolve) => socket.on('close', resolve));
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
  });

  it('an upload aborted half-way leaves nothing in IMPORT_DIR', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write(
      `POST /v1/jobs/user-import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR_KEY}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\nusername,email,role,initial_password\n${'ann,ann@example.com,user,Secret-Pw-01\n'.repeat(200)}`,
    );
    await delay(200);
    socket.destroy();
    await delay(500);
    expect(leftInImportDir()).toEqual([]);
  });

  it('a big upload sent steadily for longer than the body timeout is accepted', async () => {
    const row = '2026-01-15,EU,Pen,1,3,0.10,0.30\n';
    const chunk = row.repeat(2000); // ~64 KB every 100 ms, for about 2 s: 4 body timeouts
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 20) return controller.close();
        sent++;
        await delay(100);
        controller.enqueue(
          new TextEncoder().encode(
            sent === 1
              ? `date,region,product_name,user_id,quantity,unit_price,total_amount\n${chunk}`
              : chunk,
          ),
        );
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/sales/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'text/csv' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(202);
    expect(leftInImportDir()).toHaveLength(1);
  });

  it('a ?wait=true request silent for its whole wait is answered, not cut by the idle timeout', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/sales/batches?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(sales(2, 50)),
    });
    expect(res.status).toBe(504);
  });
});
