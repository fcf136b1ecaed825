import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { badRequest, unsupportedMediaType } from '../errors.js';
import { checkJsonDepth } from '../ingest/json-text.js';

/**
 * JSON bodies of every route (the sales batch route has its own raw parser): Fastify's parser
 * (prototype-poisoning checks kept) behind two cheap guards, so a body nested 100,000 levels deep
 * or holding invalid UTF-8 is a 400 naming the problem, never a 500 or a value quietly changed to
 * U+FFFD. `text/plain` is not read as JSON: only the upload routes take it (as a CSV file), and a
 * JSON body sent as text/plain is a 415 saying which type to send (docs/architecture.md).
 */
export function installJsonParser(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    try {
      checkJsonDepth(bytes);
      if (!isUtf8(bytes)) throw badRequest('the body is not valid UTF-8');
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    parseJson(request, bytes.toString('utf8'), done);
  });
}

/**
 * Bodies are read as sent: a gzip body would be stored as a file of gzip bytes or read as NDJSON
 * garbage, so a Content-Encoding other than identity is a 415 saying to send it uncompressed.
 */
export function refuseContentEncodings(app: FastifyInstance) {
  app.addHook('onRequest', async (request) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      throw unsupportedMediaType(`Content-Encoding ${encoding} is not supported: send the body uncompressed`);
    }
  });
}
