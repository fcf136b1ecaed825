#!/usr/bin/env node
import { ApiClient, ApiError } from './client.js';
import { type Command, UsageError } from './command.js';
import {
  backupCommand,
  backupsCommand,
  cleanupBackupsCommand,
  restoreCommand,
  verifyBackupCommand,
} from './commands/backups.js';
import { exportCommand } from './commands/export.js';
import { healthCheckCommand, schedulesCommand } from './commands/health.js';
import { jobsCommand } from './commands/jobs.js';
import { keysCommand } from './commands/keys.js';
import { loginCommand, logoutCommand, whoamiCommand } from './commands/login.js';
import { migrateCommand } from './commands/migrate.js';
import { syncSalesCommand } from './commands/sales.js';
import { importUsersCommand } from './commands/users.js';
import { loadSession } from './session-file.js';
import { NoWorkerError } from './wait.js';

/** The old data_sync.py command names, as an HTTP client of the api. */
const COMMANDS: Command[] = [
  syncSalesCommand,
  importUsersCommand,
  healthCheckCommand,
  backupCommand,
  backupsCommand,
  cleanupBackupsCommand,
  restoreCommand,
  verifyBackupCommand,
  schedulesCommand,
  jobsCommand,
  keysCommand,
  migrateCommand,
  exportCommand,
  loginCommand,
  logoutCommand,
  whoamiCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return `datasync: operate the datasync stack over its HTTP API

Environment: DATASYNC_URL (default http://localhost:3000), DATASYNC_API_KEY (an operator key;
when unset, the session of \`datasync login\` is used).
Add --json to any command for machine-readable output.

${COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`).join('\n')}
`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`datasync: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  // `datasync backup --help` prints the command's usage and does nothing else.
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.includes('--help') || options.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n  ${command.summary}\n`);
    return 0;
  }
  const baseUrl = (env.DATASYNC_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
  const client = new ApiClient({
    baseUrl,
    apiKey: env.DATASYNC_API_KEY || loadSession(env, baseUrl)?.token,
  });
  try {
    return await command.run({ client, argv: rest, json: rest.includes('--json'), env });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`datasync ${name}: ${error.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    if (error instanceof NoWorkerError) {
      process.stderr.write(`datasync ${name}: ${error.message}\n`);
      return 3;
    }
    if (error instanceof ApiError) {
      process.stderr.write(`datasync ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
