import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { apiKeyAuth } from './auth/auth.js';
import type { ApiDeps } from './deps.js';
import { registerBullBoard } from './plugins/bull-board.js';
import { registerDashboard } from './plugins/dashboard.js';
import { registerDocs } from './plugins/docs.js';
import { installJsonParser, refuseContentEncodings } from './plugins/json-parser.js';
import { frameworkErrorHandler, problems } from './plugins/problems.js';
import { requestLogSerializer } from './plugins/request-log.js';
import { closeSilentConnections, guardBodyRate, serverTimeoutOptions } from './plugins/timeouts.js';
import { uploads } from './plugins/uploads.js';
import { backupsRoutes } from './routes/backups.js';
import { directoryLoginRoutes } from './routes/directory-login.js';
import { eventsRoutes } from './routes/events.js';
import { exportsRoutes } from './routes/exports.js';
import { healthRoutes } from './routes/health.js';
import { importsRoutes } from './routes/imports.js';
import { jobsRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { migrationsRoutes } from './routes/migrations.js';
import { queuesRoutes } from './routes/queues.js';
import { reportsRoutes } from './routes/reports.js';
import { salesBatchesRoutes } from './routes/sales-batches.js';
import { salesRowsRoutes } from './routes/sales-rows.js';
import { schedulesRoutes } from './routes/schedules.js';
import { sessionRoutes } from './routes/session.js';
import { userImportReportRoutes } from './routes/user-import-report.js';
import { requestValidator } from './validation.js';

export const API_VERSION = '0.1.0';

/** Builds the api from its dependencies; main.ts listens, tests use `app.inject()`. */
export async function buildApp(deps: ApiDeps, logger: Logger | false = false) {
  const options = {
    bodyLimit: deps.config.MAX_BODY_BYTES,
    trustProxy: true,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler,
    ...serverTimeoutOptions(deps.config),
  };
  const base: FastifyInstance =
    logger === false
      ? Fastify({ ...options, logger: false })
      : Fastify({
          ...options,
          // Ours replaces Fastify's `req` serializer: no query value that could be a secret is logged.
          loggerInstance: logger.child(
            {},
            { serializers: { req: requestLogSerializer } },
          ) as unknown as FastifyBaseLogger,
        });
  // The only validator compiler: no route sets its own (a raw body is marked with rawBody()).
  base.setValidatorCompiler(requestValidator);
  base.setSerializerCompiler(serializerCompiler);
  await base.register(problems);
  installJsonParser(base);
  refuseContentEncodings(base);
  guardBodyRate(base, deps.config);
  closeSilentConnections(base, deps.config);
  await base.register(fastifyCookie);
  await registerDocs(base, API_VERSION);
  const app = base.withTypeProvider<ZodTypeProvider>();

  // Route trees: each is encapsulated, and its auth (and uploads) are registered once for the
  // whole tree. A route plugin keeps its own parsers and schemas.
  await app.register(healthRoutes, deps);
  await app.register(metricsRoutes, deps); // its own METRICS_TOKEN check
  await app.register(sessionRoutes, deps); // the dashboard's sign-in: no key yet
  await app.register(directoryLoginRoutes, deps); // sign-in with the directory (LDAP_SERVER)
  await app.register(async (ingest) => {
    await ingest.register(apiKeyAuth, { keys: deps.keys, scope: 'ingest' });
    await ingest.register(salesBatchesRoutes, deps);
  });
  await app.register(async (operator) => {
    await operator.register(apiKeyAuth, { keys: deps.keys, scope: 'operator' });
    await operator.register(uploads, { config: deps.config });
    await operator.register(jobsRoutes, deps);
    await operator.register(importsRoutes, deps);
    await operator.register(userImportReportRoutes, deps);
    await operator.register(backupsRoutes, deps);
    await operator.register(schedulesRoutes, deps);
    await operator.register(reportsRoutes, deps);
    await operator.register(salesRowsRoutes, deps);
    await operator.register(queuesRoutes, deps);
    await operator.register(eventsRoutes, deps);
    await operator.register(migrationsRoutes, deps);
    await operator.register(exportsRoutes, deps);
    // operator routes: more plugins above this line
  });

  await registerBullBoard(base, deps);
  await registerDashboard(base, deps);
  return base;
}
