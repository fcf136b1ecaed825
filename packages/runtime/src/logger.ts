import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths pino blanks in every log line: secrets never depend on care at the call site. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'initial_password',
  '*.initial_password',
  '*.*.initial_password',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'authorization',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'config.API_KEYS',
  'config.SALES_API_KEY',
  'config.SMTP_URL',
  'config.SLACK_WEBHOOK',
  'config.METRICS_TOKEN',
];

export interface LoggerOptions {
  level: string;
  /** Also append JSON lines here (rotation: logrotate with copytruncate, see docs/operations.md). */
  file?: string | undefined;
}

export function createLogger(name: string, options: LoggerOptions): Logger {
  const base = { level: options.level, name, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (!options.file) return pino(base);
  mkdirSync(dirname(options.file), { recursive: true });
  return pino(
    base,
    pino.multistream([
      { stream: pino.destination({ fd: 1, sync: false }), level: options.level as pino.Level },
      {
        stream: pino.destination({ dest: options.file, sync: false, mkdir: true }),
        level: options.level as pino.Level,
      },
    ]),
  );
}
