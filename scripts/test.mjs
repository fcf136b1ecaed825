// `npm test`: installs what is missing, then lint, typecheck, build and the whole suite
// (real Redis started by the suite itself, real DuckDB files in temp folders).
import {
  ensureChromium,
  ensureMariadb,
  ensurePnpm,
  ensurePostgresql,
  ensureRedisServer,
  ensureSlapd,
  installWorkspace,
  log,
  nodeVersionOk,
  run,
} from './bootstrap.mjs';

nodeVersionOk();
const pnpm = ensurePnpm();
installWorkspace(pnpm);
ensureRedisServer();
ensureChromium();
ensureSlapd();
ensurePostgresql();
ensureMariadb();
log('lint (biome)');
run(pnpm, ['exec', 'biome', 'check', '.']);
log('typecheck and build');
run(pnpm, ['exec', 'turbo', 'run', 'build', 'typecheck', '--output-logs=errors-only']);
log('infrastructure checks (compose, nginx, redis, logrotate, systemd, shellcheck)');
run(process.execPath, ['scripts/check-infra.mjs']);
log('tests');
run(pnpm, ['exec', 'turbo', 'run', 'test', '--concurrency=2', '--output-logs=full', '--continue']);
log('all tests passed');
