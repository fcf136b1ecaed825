import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { ApiDeps } from './deps.js';
import { registerBullBoard } from './plugins/bull-board.js';
import { registerDashboard } from './plugins/dashboard.js';
import { registerDocs } from './plugins/docs.js';
import { installJsonParser, refuseContentEncodings } from './plugins/json-parser.js';
import { frameworkErrorHandler, installProblemHandler } from './plugins/problems.js';
import { requestLogSerializer } from './plugins/request-log.js';
import { closeSilentConnections, guardBodyRate, serverTimeoutOptions } from './plugins/timeouts.js';
import { backupsRoutes } from './routes/backups.js';
import { eventsRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { importsRoutes } from './routes/imports.js';
import { jobsRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { reportsRoutes } from './routes/reports.js';
import { salesBatchesRoutes } from './routes/sales-batches.js';
import { schedulesRoutes } from './routes/schedules.js';
import { sessionRoutes } from './routes/session.js';
import { userImportReportRoutes } from './routes/user-import-report.js';

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
  base.setValidatorCompiler(validatorCompiler);
  base.setSerializerCompiler(serializerCompiler);
  installProblemHandler(base);
  installJsonParser(base);
  refuseContentEncodings(base);
  guardBodyRate(base, deps.config);
  closeSilentConnections(base, deps.config);
  await base.register(fastifyCookie);
  await registerDocs(base, API_VERSION);
  const app = base.withTypeProvider<ZodTypeProvider>();

  // One line per route plugin; each is encapsulated with its own parsers and schemas.
  await app.register(healthRoutes, deps);
  await app.register(salesBatchesRoutes, deps);
  await app.register(jobsRoutes, deps);
  await app.register(importsRoutes, deps);
  await app.register(userImportReportRoutes, deps);
  await app.register(backupsRoutes, deps);
  await app.register(schedulesRoutes, deps);
  await app.register(metricsRoutes, deps);
  await app.register(reportsRoutes, deps);
  await app.register(sessionRoutes, deps);
  await app.register(eventsRoutes, deps);
  // routes: more plugins above this line

  await registerBullBoard(base, deps);
  await registerDashboard(base, deps);
  return base;
}
