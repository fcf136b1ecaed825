import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiDeps } from '../deps.js';

/** apps/dashboard/dist of this checkout: the api's dist is apps/api/dist, its sibling's is two up. */
const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dashboard', 'dist');

/**
 * Everything the dashboard loads comes from here: scripts and styles from this origin only, no
 * inline script, no framing. The api's JSON routes need none of it, so only the pages get it.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The built dashboard at `/` (static files, long-cached except index.html). */
export async function registerDashboard(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const root = deps.config.DASHBOARD_DIR ? resolve(deps.config.DASHBOARD_DIR) : DEFAULT_DIR;
  const built = existsSync(join(root, 'index.html'));
  const headers = (reply: FastifyReply, path: string) => {
    reply.header('content-security-policy', DASHBOARD_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header(
      'cache-control',
      path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
    );
  };
  if (!built) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send(
          `The dashboard is not built (no ${join(root, 'index.html')}): run npm start, or pnpm --filter @datasync/dashboard build.\n`,
        ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    // One route per built file, no catch-all: every other path stays the API's (its 404s, 414s).
    // A dashboard rebuilt while the api runs is served after an api restart.
    wildcard: false,
    setHeaders: headers,
  });
}
