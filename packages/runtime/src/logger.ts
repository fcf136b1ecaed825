import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Logger, pino } from 'pino';
import { build as prettyStream } from 'pino-pretty';

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
  'config.LDAP_PASSWORD',
];

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerOptions {
  level: string;
  /** Also append JSON lines here (rotation: logrotate with copytruncate, see docs/operations.md). */
  file?: string | undefined;
  /**
   * stdout's format: `json`, `pretty` (one readable line per entry, for people), or `auto`
   * (default): pretty when stdout is a terminal. LOG_FILE always gets JSON.
   */
  format?: LogFormat | undefined;
}

/** Whether stdout gets readable lines: asked for, or `auto` on a terminal. */
export function prettyLogs(format: LogFormat = 'auto', stdoutIsTTY = Boolean(process.stdout.isTTY)): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTTY);
}

/** Readable lines on stdout, or undefined for pino's own JSON. */
function prettyStdout(format: LogFormat | undefined): pino.DestinationStream | undefined {
  if (!prettyLogs(format)) return undefined;
  // In this thread (no transport worker): a log line is formatted where it is written, so the
  // last lines before an exit are not lost. One line per entry: `npm start` prefixes each line
  // with the app's name, so pid, host and name would only repeat it.
  return prettyStream({
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
    colorize: Boolean(process.stdout.isTTY),
    destination: 1,
    sync: true,
  });
}

export function createLogger(name: string, options: LoggerOptions): Logger {
  const base = { level: options.level, name, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  const pretty = prettyStdout(options.format);
  if (!options.file) return pretty ? pino(base, pretty) : pino(base);
  mkdirSync(dirname(options.file), { recursive: true });
  return pino(
    base,
    pino.multistream([
      { stream: pretty ?? pino.destination({ fd: 1, sync: false }), level: options.level as pino.Level },
      {
        stream: pino.destination({ dest: options.file, sync: false, mkdir: true }),
        level: options.level as pino.Level,
      },
    ]),
  );
}
