import {
  commitSalesBatches,
  DatabaseFatalError,
  type DatabaseWriter,
  LockLostError,
  type SalesBatch,
} from '@datasync/db';
import type { IngestJobResult } from '@datasync/schemas';
import type { Logger } from 'pino';

export interface CommitStats {
  batches: number;
  rows: number;
  rejected: number;
  ms: number;
  /** Rows stored and rejected per source (duplicates count nowhere). */
  sources: { source: string; rows: number; rejected: number }[];
}

export interface GroupCommitterOptions {
  writer: DatabaseWriter;
  logger: Logger;
  /** Commit as soon as this many rows are pending. */
  maxRows: number;
  /** Otherwise wait at most this long for more batches to join the group. */
  maxWaitMs: number;
  onCommitted?: (stats: CommitStats) => void;
}

interface Pending {
  batch: SalesBatch;
  resolve: (result: IngestJobResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: batches handed in by concurrent ingest jobs are committed together in one DuckDB
 * transaction (each with its own ledger record), since a commit costs far more than appending a
 * thousand rows. Each job still gets its own result. If a group fails for a reason that is not the
 * lock or the database itself, its batches are retried one by one, so a poison batch fails alone.
 */
export class GroupCommitter {
  private pending: Pending[] = [];
  private pendingRows = 0;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: GroupCommitterOptions) {}

  submit(batch: SalesBatch): Promise<IngestJobResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      this.pendingRows += batch.sales.length + batch.rejects.length;
      this.schedule();
    });
  }

  /** Resolves when everything submitted so far is committed or failed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing) {
      if (!this.flushing) this.flush();
      await this.flushing;
    }
  }

  private schedule() {
    if (this.flushing) return; // the running flush looks again when it ends
    if (this.pendingRows >= this.options.maxRows) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.options.maxWaitMs);
    }
  }

  private flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushing || this.pending.length === 0) return;
    const group = this.takeGroup();
    this.flushing = this.commit(group).finally(() => {
      this.flushing = null;
      if (this.pending.length > 0) this.schedule();
    });
  }

  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    let rows = 0;
    while (this.pending.length > 0 && (group.length === 0 || rows < this.options.maxRows)) {
      const next = this.pending.shift()!;
      rows += next.batch.sales.length + next.batch.rejects.length;
      group.push(next);
    }
    this.pendingRows -= rows;
    return group;
  }

  private async commit(group: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.options.writer.transaction((tx) =>
        commitSalesBatches(
          tx,
          group.map((p) => p.batch),
        ),
      );
      const ms = performance.now() - started;
      const rows = results.reduce((n, r) => n + r.stored, 0);
      const rejected = results.reduce((n, r) => n + (r.duplicate ? 0 : r.rejected), 0);
      const bySource = new Map<string, { source: string; rows: number; rejected: number }>();
      for (const [i, p] of group.entries()) {
        const r = results[i]!;
        if (r.duplicate) continue;
        const entry = bySource.get(p.batch.source) ?? { source: p.batch.source, rows: 0, rejected: 0 };
        entry.rows += r.stored;
        entry.rejected += r.rejected;
        bySource.set(p.batch.source, entry);
      }
      this.options.onCommitted?.({
        batches: group.length,
        rows,
        rejected,
        ms,
        sources: [...bySource.values()],
      });
      this.options.logger.debug(
        { batches: group.length, rows, rejected, ms: Math.round(ms) },
        'group committed',
      );
      for (const [i, p] of group.entries()) p.resolve(results[i]!);
    } catch (error) {
      if (group.length === 1 || error instanceof LockLostError || error instanceof DatabaseFatalError) {
        for (const p of group) p.reject(error);
        return;
      }
      this.options.logger.warn(
        { err: (error as Error).message, batches: group.length },
        'group commit failed; committing its batches one by one',
      );
      for (const p of group) await this.commit([p]);
    }
  }
}
