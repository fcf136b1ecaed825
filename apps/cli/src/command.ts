import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { JobStatus } from '@datasync/schemas';
import type { ApiClient } from './client.js';
import { printKeyValues } from './output.js';
import { type Accepted, waitForJob } from './wait.js';

export interface CommandContext {
  client: ApiClient;
  argv: string[];
  json: boolean;
  /** The environment (the session file of `datasync login` lives under XDG_CONFIG_HOME). */
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  run(ctx: CommandContext): Promise<number>;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  allowPositionals = true,
): ParsedArgs {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, json: { type: 'boolean' } },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function print(json: boolean, value: unknown, human: () => void): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else human();
}

/**
 * Enqueues a job (JSON options or an uploaded file), waits with a progress bar, prints a summary
 * and returns the exit code: 0 completed, 1 failed. `summarize` prints a job's own result.
 */
export async function runJob(
  ctx: CommandContext,
  request: { path: string; json?: unknown; file?: string; contentType?: string },
  summarize: (result: unknown) => void = (result) =>
    printKeyValues((result ?? {}) as Record<string, unknown>),
  exitCodeOf: (status: JobStatus) => number = (status) => (status.state === 'completed' ? 0 : 1),
): Promise<number> {
  const accepted = await ctx.client.request<Accepted>('POST', request.path, request);
  if (!ctx.json) process.stderr.write(`job ${accepted.jobId} (${accepted.type}) queued\n`);
  const status = await waitForJob(ctx.client, accepted, { json: ctx.json });
  print(ctx.json, status, () => {
    if (status.state === 'completed') {
      process.stdout.write(`${accepted.type} completed (job ${status.id})\n`);
      summarize(status.result);
    } else {
      process.stdout.write(
        `${accepted.type} FAILED after ${status.attempts} attempt(s) (job ${status.id}): ${status.error}\n`,
      );
    }
  });
  return exitCodeOf(status);
}
