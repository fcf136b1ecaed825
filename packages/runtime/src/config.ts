import { existsSync } from 'node:fs';
import { ConfigError, type EnvConfig, parseEnvConfig } from '@datasync/schemas';

/**
 * Loads `.env` (when present, without overriding the real environment) and parses the whole
 * environment once. The one place that reads process.env; everything else takes the typed config.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, envFile = '.env'): EnvConfig {
  if (env === process.env && existsSync(envFile)) process.loadEnvFile(envFile);
  return parseEnvConfig(env);
}

/** For `main.ts`: a bad configuration prints what is wrong and exits 78 (EX_CONFIG). */
export function loadConfigOrExit(processName: string): EnvConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${processName}: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
