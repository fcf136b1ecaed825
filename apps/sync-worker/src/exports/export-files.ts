import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type DatabaseWriter, exportTable } from '@datasync/db';
import { EXPORTS_FOLDER, type ExportTableJobData, type ExportTableResult } from '@datasync/schemas';
import type { Logger } from 'pino';

/**
 * The export-table job: the worker writes the file into IMPORT_DIR/.exports (the folder the api
 * and the workers already share for uploads), the api streams it to the client and deletes it.
 * A file nobody fetched (the client gave up, the api died) is swept after EXPORT_MAX_AGE_MS.
 */

/** Long past any api wait (WAIT_TIMEOUT_MS) for the job: an older file has no reader coming. */
export const EXPORT_MAX_AGE_MS = 15 * 60_000;

export function exportsDirOf(importDir: string): string {
  return join(resolve(importDir), EXPORTS_FOLDER);
}

export async function writeExport(
  writer: DatabaseWriter,
  exportsDir: string,
  data: ExportTableJobData,
): Promise<ExportTableResult> {
  await mkdir(exportsDir, { recursive: true, mode: 0o700 });
  const name = `${data.table}-${randomUUID()}.${data.format}`;
  const file = join(exportsDir, name);
  try {
    const counts = await writer.read((conn) => exportTable(conn, data, file));
    return { file: name, ...counts };
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
}

/** Removes export files older than `maxAgeMs`; says how many it removed. */
export async function sweepExports(exportsDir: string, maxAgeMs = EXPORT_MAX_AGE_MS): Promise<number> {
  let names: string[];
  try {
    names = await readdir(exportsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    const path = join(exportsDir, name);
    const info = await stat(path).catch(() => null);
    if (info?.isFile() && info.mtimeMs < cutoff) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}

export interface ExportSweeperOptions {
  exportsDir: string;
  logger: Logger;
  maxAgeMs?: number;
  intervalMs?: number;
}

/** Sweeps forgotten export files on a timer; `start()` and `close()` are safe to call twice. */
export class ExportSweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ExportSweeperOptions) {}

  start(): this {
    if (this.timer) return this;
    const interval = this.options.intervalMs ?? 60_000;
    this.timer = setInterval(() => void this.sweep(), interval);
    this.timer.unref();
    void this.sweep();
    return this;
  }

  async sweep(): Promise<number> {
    try {
      const removed = await sweepExports(this.options.exportsDir, this.options.maxAgeMs);
      if (removed > 0) this.options.logger.info({ removed }, 'removed export files nobody fetched');
      return removed;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not sweep old export files');
      return 0;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
