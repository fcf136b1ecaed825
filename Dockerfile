# syntax=docker/dockerfile:1
# One image for every process; the command picks the app (see docker-compose.yml):
#   node apps/api/dist/main.js | apps/sync-worker/dist/main.js | apps/backup-worker/dist/main.js
#   | apps/scheduler/dist/main.js, and `datasync ...` (the CLI) inside any container.
# Debian-based on purpose: DuckDB's native binary (@duckdb/node-bindings-linux-x64) is built for glibc.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH
# corepack cannot fetch pnpm on every network; npm can.
RUN npm install -g pnpm@12.4.2 && pnpm --version
WORKDIR /app

# Production dependencies only, from the manifests alone, so source edits do not reinstall them.
# Every workspace package.json is listed here (scripts/check-infra.mjs checks none is missing).
FROM base AS prod-deps
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY packages/schemas/package.json packages/schemas/
COPY packages/db/package.json packages/db/
COPY packages/runtime/package.json packages/runtime/
COPY apps/api/package.json apps/api/
COPY apps/sync-worker/package.json apps/sync-worker/
COPY apps/backup-worker/package.json apps/backup-worker/
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/cli/package.json apps/cli/
COPY apps/dashboard/package.json apps/dashboard/
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --prod --store-dir /pnpm/store

FROM base AS build
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --store-dir /pnpm/store
# Every package's tsc build, in dependency order (pnpm sorts the workspace topologically).
RUN pnpm --recursive run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    UV_THREADPOOL_SIZE=16 \
    DATABASE_PATH=/app/data/dashboard.duckdb \
    IMPORT_DIR=/app/imports \
    BACKUP_DIR=/app/backups
WORKDIR /app
# Manifests and node_modules (pnpm's symlinks stay symlinks), then each package's compiled output.
COPY --from=prod-deps /app /app
COPY --from=build /app/packages/schemas/dist packages/schemas/dist
COPY --from=build /app/packages/db/dist packages/db/dist
COPY --from=build /app/packages/runtime/dist packages/runtime/dist
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/sync-worker/dist apps/sync-worker/dist
COPY --from=build /app/apps/backup-worker/dist apps/backup-worker/dist
COPY --from=build /app/apps/scheduler/dist apps/scheduler/dist
COPY --from=build /app/apps/cli/dist apps/cli/dist
# The dashboard's static files, which the api serves at / (apps/api finds them beside itself).
COPY --from=build /app/apps/dashboard/dist apps/dashboard/dist
COPY infra/docker/healthcheck.mjs infra/docker/healthcheck.mjs
# Empty named volumes take these folders' owner, so the non-root user can write to them.
RUN chmod +x apps/cli/dist/main.js \
    && ln -s /app/apps/cli/dist/main.js /usr/local/bin/datasync \
    && mkdir -p /app/data /app/imports /app/backups /app/logs \
    && chown node:node /app/data /app/imports /app/backups /app/logs
USER node
EXPOSE 3000
# The api answers GET /health; a worker or the scheduler is healthy while it holds a Redis connection.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "/app/infra/docker/healthcheck.mjs"]
CMD ["node", "apps/api/dist/main.js"]
