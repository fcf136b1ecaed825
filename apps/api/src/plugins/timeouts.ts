import { Transform } from 'node:stream';
import type { EnvConfig } from '@datasync/schemas';
import type { FastifyInstance } from 'fastify';
import { HttpProblem } from '../errors.js';

/**
 * Fastify/Node server options for the timeouts a real client never meets and a slow client
 * (slow-loris) always does: headers must arrive within HTTP_HEADERS_TIMEOUT_MS, a connection
 * silent both ways for HTTP_IDLE_TIMEOUT_MS is closed, an idle kept-alive one after
 * HTTP_KEEP_ALIVE_TIMEOUT_MS. No total request timeout (requestTimeout 0): a 1 GB upload takes
 * as long as it takes; the body is held to a minimum rate instead (guardBodyRate).
 */
export function serverTimeoutOptions(config: EnvConfig) {
  return {
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: 0,
    http: {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      // Node enforces headersTimeout on this sweep (30 s by default), so it follows the timeout.
      connectionsCheckingInterval: Math.min(
        30_000,
        Math.max(50, Math.floor(config.HTTP_HEADERS_TIMEOUT_MS / 4)),
      ),
    },
  };
}

/**
 * A connection that sends no request at all: Node's headersTimeout only starts with the first
 * byte, and its socket timeout does not fire before a first request (measured on Node 20), so an
 * idle connection would stay open for good. It gets HTTP_HEADERS_TIMEOUT_MS to begin a request.
 */
export function closeSilentConnections(app: FastifyInstance, config: EnvConfig) {
  const timers = new WeakMap<object, NodeJS.Timeout>();
  app.server.on('connection', (socket: import('node:net').Socket) => {
    const timer = setTimeout(() => socket.destroy(), config.HTTP_HEADERS_TIMEOUT_MS);
    timer.unref();
    timers.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  app.server.on('request', (request: import('node:http').IncomingMessage) => {
    clearTimeout(timers.get(request.socket));
  });
}

/**
 * A request body must advance HTTP_BODY_MIN_BYTES in every HTTP_BODY_TIMEOUT_MS, or the request
 * is answered 408 and its connection closed (the parser, JSON or upload, fails with the 408; an
 * upload's partial file is removed). A rate, not a total: any real upload passes.
 */
export function guardBodyRate(app: FastifyInstance, config: EnvConfig) {
  const windowMs = config.HTTP_BODY_TIMEOUT_MS;
  const minBytes = config.HTTP_BODY_MIN_BYTES;
  app.addHook('preParsing', async (request, reply, payload) => {
    const headers = request.headers;
    if (!(Number(headers['content-length']) > 0 || headers['transfer-encoding'] !== undefined))
      return payload;
    let bytes = 0;
    let checked = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    // A body nobody reads (refused before parsing) must not make an unheard 'error' crash us.
    counted.on('error', () => undefined);
    const timer = setInterval(() => {
      if (bytes - checked < minBytes) {
        stop();
        counted.destroy(
          new HttpProblem(
            408,
            'Request Timeout',
            `the request body arrived slower than ${minBytes} bytes per ${windowMs} ms`,
            { headers: { connection: 'close' } },
          ),
        );
      }
      checked = bytes;
    }, windowMs);
    timer.unref();
    const stop = () => clearInterval(timer);
    counted.once('end', stop);
    counted.once('close', stop);
    reply.raw.once('close', stop);
    payload.on('error', (error) => counted.destroy(error));
    payload.pipe(counted);
    return counted;
  });
}
