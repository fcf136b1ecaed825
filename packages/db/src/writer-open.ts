import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { isFileLockError, LockLostError } from './errors.js';
import type { WriterLogger, WriterObserver } from './writer.js';
import type { WriterLock } from './writer-lock.js';

/** Who DuckDB says holds the file: "Conflicting lock is held in /usr/bin/duckdb (PID 4242)". */
export function fileLockHolder(error: unknown): { pid: number | null; program: string | null } {
  const message = error instanceof Error ? error.message : String(error);
  const match = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(message);
  const pid = Number(match?.[2] ?? 0);
  return { pid: pid > 0 ? pid : null, program: match?.[1]?.trim() || null };
}

export interface OpenFileOptions {
  path: string;
  lock: WriterLock;
  logger: WriterLogger;
  observer?: WriterObserver | undefined;
  /** How long to wait for one of the stack's own processes (a paused old holder) to let go. */
  openTimeoutMs: number;
  duckdbOptions?: Record<string, string> | undefined;
}

const REPEAT_WARNING_MS = 30_000;
const PUBLISH_EVERY_MS = 1_000;

/**
 * Opens the DuckDB file for the lease holder. A previous holder of the stack that is paused or
 * still closing keeps DuckDB's own file lock: wait for it, up to `openTimeoutMs`. A process outside
 * the stack (the DuckDB CLI, a BI tool) that holds the file is named in a warning and published
 * through the observer (health check, /metrics, one alert), and waited for without a time limit:
 * the jobs behind it keep their attempts and resume within a moment once it lets go.
 */
export async function openDatabaseFile(options: OpenFileOptions): Promise<DuckDBInstance> {
  const { path, lock, logger, observer, openTimeoutMs } = options;
  mkdirSync(dirname(path), { recursive: true });
  const started = Date.now();
  let backoffMs = 25;
  let outside: { pid: number | null; program: string | null; since: number } | null = null;
  let warnedAt = 0;
  let publishedAt = 0;
  for (;;) {
    try {
      const instance = await DuckDBInstance.create(path, options.duckdbOptions ?? {});
      if (outside) {
        const heldMs = Date.now() - outside.since;
        logger.info(
          { holderPid: outside.pid, program: outside.program, heldMs },
          'the outside process let go of the database file: writes resume',
        );
        observer?.outsideHolder?.(null);
      }
      return instance;
    } catch (error) {
      if (!isFileLockError(error)) throw error;
      const holder = fileLockHolder(error);
      const now = Date.now();
      if (await lock.isStackHolder(holder.pid)) {
        // One of ours (a paused or closing previous holder): it lets go, or its lease check stops it.
        if (now - started > openTimeoutMs) throw error;
        logger.debug(
          { waitedMs: now - started, holderPid: holder.pid, program: holder.program },
          'database file still open in another datasync process',
        );
      } else {
        if (!outside || outside.pid !== holder.pid) {
          outside = { ...holder, since: now };
          warnedAt = 0;
          publishedAt = 0;
        }
        if (now - warnedAt >= REPEAT_WARNING_MS) {
          warnedAt = now;
          logger.warn(
            // holderPid, not pid: pino's own `pid` (this process) would be shadowed in the JSON line.
            { holderPid: holder.pid, program: holder.program, path, heldMs: now - outside.since },
            `database file held by ${holder.program ?? 'a process'} (PID ${holder.pid ?? 'unknown'}) outside datasync: writes wait until it closes the file; never open the live file (docs/operations.md)`,
          );
        }
        if (now - publishedAt >= PUBLISH_EVERY_MS) {
          publishedAt = now;
          observer?.outsideHolder?.({ ...holder, path, since: new Date(outside.since).toISOString() });
        }
      }
      if (!(await lock.confirm())) throw new LockLostError('writer lease lost while waiting for the file');
      await delay(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 250);
    }
  }
}
