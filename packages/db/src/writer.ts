import { setTimeout as delay } from 'node:timers/promises';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DatabaseFatalError, isFatalDuckDbError, LockLostError } from './errors.js';
import { ForeignDatabaseError, findForeignTables } from './foreign-database.js';
import { migrate } from './migrations.js';
import { verifyRollup } from './sales-rollup.js';
import type { LockGrant, WriterLock } from './writer-lock.js';
import { openDatabaseFile } from './writer-open.js';

/**
 * DATASYNC_VERIFY_ROLLUP=1 (the test suite sets it) checks before every COMMIT that the daily
 * rollup still equals the sales it sums, and rolls back when not: a full scan, not for production.
 */
const VERIFY_ROLLUP = process.env.DATASYNC_VERIFY_ROLLUP === '1';

/** The slice of a pino logger the writer needs. */
export interface WriterLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Hooks for metrics: lock wait and hold durations in milliseconds, and an outside file holder. */
export interface WriterObserver {
  lockWaited?(ms: number): void;
  lockHeld?(ms: number): void;
  /**
   * A process outside the stack keeps the lease holder from the file (repeated about every second
   * while it lasts), or null once the file is open again.
   */
  outsideHolder?(
    holder: { pid: number | null; program: string | null; path: string; since: string } | null,
  ): void;
}

export interface DatabaseWriterOptions {
  path: string;
  lock: WriterLock;
  logger: WriterLogger;
  /** An idle holder closes the database and releases the lock after this long (0: never). */
  idleReleaseMs?: number;
  /** How often a holder looks for waiting processes. */
  handoverCheckMs?: number;
  /**
   * How long to keep retrying DuckDB's file lock held by another datasync process after winning
   * the lease (a paused old holder). A process outside the stack is waited for without a limit.
   */
  openTimeoutMs?: number;
  /** DuckDB settings, e.g. { threads: '2', memory_limit: '2GB' }. */
  duckdbOptions?: Record<string, string>;
  observer?: WriterObserver;
  /** Called on a fatal DuckDB error; the default logs and exits the process (code 70). */
  onFatal?: (error: DatabaseFatalError) => void;
}

/** What a write transaction gets: its connection and the epoch that fences it. */
export interface WriteContext {
  conn: DuckDBConnection;
  epoch: number;
}

/**
 * Owns this process's DuckDB instance and the writer lock. The database stays open across jobs
 * while this process is busy; it is handed over (CHECKPOINT, every connection disconnected, the
 * instance closed, the lease released) between transactions as soon as another process waits, or
 * after `idleReleaseMs` without work. Write transactions run one at a time; reads run on their own
 * connection beside them (DuckDB's MVCC), so a report never waits behind an ingest transaction.
 */
export class DatabaseWriter {
  private readonly options: Required<Omit<DatabaseWriterOptions, 'observer' | 'onFatal' | 'duckdbOptions'>> &
    DatabaseWriterOptions;
  private instance: DuckDBInstance | null = null;
  private conn: DuckDBConnection | null = null;
  private readConns: DuckDBConnection[] = [];
  private grant: LockGrant | null = null;
  private heldSince = 0;
  private opening: Promise<void> | null = null;
  private writeChain: Promise<unknown> = Promise.resolve();
  /** Write transactions and exclusive work under way (reads are counted apart, in `reads`). */
  private activeOps = 0;
  private reads = 0;
  /**
   * Set while the file is being closed (handover, exclusive work, a lost lease, shutdown): a read
   * arriving then waits, and the closing waits for the reads in flight, so no read reopens the file
   * in the middle of a backup's copy or a restore's swap, and no instance outlives its close.
   */
  private fileGate: Promise<void> | null = null;
  private waitersSeen = 0;
  private lastActivity = Date.now();
  private watchTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private lostLease = false;

  constructor(options: DatabaseWriterOptions) {
    this.options = {
      idleReleaseMs: 5_000,
      handoverCheckMs: 50,
      openTimeoutMs: 120_000,
      ...options,
    };
    options.lock.on('lost', (reason) => {
      this.lostLease = true;
      this.options.logger.error({ reason }, 'writer lease lost: no further commit until it is taken again');
      // After the transaction under way (whose pre-commit check now fails), let the file go.
      void this.runInWriteChain(async () => {
        if (this.lostLease) await this.dropAfterLoss();
      });
    });
  }

  get path(): string {
    return this.options.path;
  }

  /** True while this process holds the lock and has the database open. */
  get isOpen(): boolean {
    return this.conn !== null;
  }

  /**
   * Runs `fn` inside one DuckDB transaction under the writer lock. Before COMMIT the epoch fence is
   * advanced and the lease confirmed; a holder that lost its lease rolls back with LockLostError.
   */
  transaction<T>(fn: (tx: WriteContext) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      await this.ensureOpen();
      const conn = this.conn!;
      const epoch = this.grant!.epoch;
      this.activeOps++;
      try {
        await conn.run('BEGIN TRANSACTION');
        try {
          const result = await fn({ conn, epoch });
          if (VERIFY_ROLLUP) await verifyRollup(conn);
          await this.fenceAndConfirm(conn, epoch);
          await conn.run('COMMIT');
          return result;
        } catch (error) {
          await conn.run('ROLLBACK').catch(() => undefined);
          throw error;
        }
      } catch (error) {
        throw this.checkFatal(error);
      } finally {
        this.activeOps--;
        this.lastActivity = Date.now();
        await this.afterOperation();
      }
    };
    const next = this.writeChain.then(run, run);
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  /** Runs a read on a connection of its own, beside any write transaction. */
  async read<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const instance = await this.enterRead();
    const conn = this.readConns.pop() ?? (await instance.connect());
    try {
      return await fn(conn);
    } catch (error) {
      throw this.checkFatal(error);
    } finally {
      // Back to the pool only if the file was not closed (and maybe reopened) meanwhile: a
      // connection of an earlier instance would read that instance's old picture.
      if (this.instance === instance) this.readConns.push(conn);
      else conn.disconnectSync();
      this.reads--;
      this.lastActivity = Date.now();
    }
  }

  /** Waits out any closing of the file, opens it if need be, and counts the read in. */
  private async enterRead(): Promise<DuckDBInstance> {
    for (;;) {
      while (this.fileGate) await this.fileGate;
      await this.ensureOpen();
      // Checked and counted in one synchronous step: no close can slip in between.
      if (!this.fileGate && this.instance) {
        this.reads++;
        return this.instance;
      }
    }
  }

  /**
   * Runs `fn` (which closes the file) with new reads held back, once the reads in flight are done.
   * The gate opens again when `fn` has finished, lock released and all.
   */
  private async withFileGate<T>(fn: () => Promise<T>): Promise<T> {
    while (this.fileGate) await this.fileGate;
    let open!: () => void;
    this.fileGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      while (this.reads > 0) await delay(5);
      return await fn();
    } finally {
      this.fileGate = null;
      open();
    }
  }

  /**
   * Runs `fn` holding the lock with the database file closed and checkpointed: for backups that
   * copy the file and restores that swap it. The next operation reopens the file.
   */
  exclusive<T>(fn: (ctx: { path: string; epoch: number }) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      await this.ensureOpen();
      const epoch = this.grant!.epoch;
      this.activeOps++;
      try {
        return await this.withFileGate(async () => {
          try {
            await this.closeDatabase();
            if (!(await this.options.lock.confirm()))
              throw new LockLostError('writer lease lost before exclusive work');
            return await fn({ path: this.options.path, epoch });
          } finally {
            await this.releaseLock('exclusive work done');
          }
        });
      } finally {
        this.activeOps--;
        this.lastActivity = Date.now();
      }
    };
    const next = this.writeChain.then(run, run);
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  /** Closes the database and releases the lock; safe to call twice. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.writeChain;
    this.stopWatch();
    await this.withFileGate(async () => {
      await this.closeDatabase();
      await this.releaseLock('shutdown');
    });
  }

  private async ensureOpen(): Promise<void> {
    if (this.closing) throw new Error('database writer is closed');
    if (this.conn && this.grant && !this.lostLease) return;
    if (!this.opening) {
      this.opening = this.open().finally(() => {
        this.opening = null;
      });
    }
    await this.opening;
  }

  private async open(): Promise<void> {
    const { lock, logger } = this.options;
    if (this.lostLease) await this.dropAfterLoss();
    const grant = await lock.acquire();
    this.grant = grant;
    this.heldSince = Date.now();
    this.options.observer?.lockWaited?.(grant.waitedMs);
    logger.info({ waitedMs: grant.waitedMs, epoch: grant.epoch }, 'writer lock acquired');
    try {
      await this.openDuckDb();
    } catch (error) {
      await this.releaseLock('open failed');
      throw this.checkFatal(error);
    }
    this.startWatch();
  }

  private async openDuckDb(): Promise<void> {
    const { path, lock, logger, observer, openTimeoutMs, duckdbOptions } = this.options;
    this.instance = await openDatabaseFile({ path, lock, logger, observer, openTimeoutMs, duckdbOptions });
    await lock.noteFileOpen();
    this.conn = await this.instance.connect();
    // Never migrate a file someone else wrote (the old script's database): see foreign-database.ts.
    const foreign = await findForeignTables(this.conn);
    if (foreign.length > 0) {
      this.conn.disconnectSync();
      this.instance.closeSync();
      this.conn = null;
      this.instance = null;
      await lock.noteFileClosed();
      throw new ForeignDatabaseError(path, foreign);
    }
    const applied = await migrate(this.conn);
    if (applied.length) logger.info({ migrations: applied }, 'database migrated');
  }

  private async fenceAndConfirm(conn: DuckDBConnection, epoch: number): Promise<void> {
    const fenced = await conn.run('UPDATE writer_fence SET epoch = $1 WHERE epoch <= $1', [epoch]);
    if (fenced.rowsChanged !== 1) {
      throw new LockLostError(`a newer writer (epoch above ${epoch}) has committed: this holder is stale`);
    }
    if (!(await this.options.lock.confirm())) {
      throw new LockLostError('writer lease lost before commit: rolled back');
    }
  }

  private async afterOperation(): Promise<void> {
    if (this.waitersSeen > 0 && this.activeOps === 0) {
      await this.handover('another process is waiting');
    }
  }

  private startWatch(): void {
    this.stopWatch();
    const tick = async () => {
      if (!this.grant) return;
      try {
        this.waitersSeen = await this.options.lock.waiters();
      } catch {
        this.waitersSeen = 0;
      }
      const idleFor = Date.now() - this.lastActivity;
      const idle = this.activeOps === 0 && !this.opening;
      if (idle && this.waitersSeen > 0) {
        await this.runInWriteChain(() => this.handover('another process is waiting'));
      } else if (idle && this.options.idleReleaseMs > 0 && idleFor >= this.options.idleReleaseMs) {
        await this.runInWriteChain(() => this.handover('idle'));
      }
    };
    this.watchTimer = setInterval(() => void tick(), this.options.handoverCheckMs);
    this.watchTimer.unref();
  }

  private stopWatch(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
  }

  private runInWriteChain(fn: () => Promise<void>): Promise<void> {
    const next = this.writeChain.then(fn, fn);
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  private async handover(reason: string): Promise<void> {
    if (!this.grant || this.activeOps > 0) return;
    await this.withFileGate(async () => {
      await this.closeDatabase();
      await this.releaseLock(reason);
    });
  }

  /** The lease is gone (the lock already forgot it): close the file without a checkpoint. */
  private async dropAfterLoss(): Promise<void> {
    while (this.activeOps > 0) await delay(10);
    await this.withFileGate(async () => {
      await this.closeDatabase();
      await this.releaseLock('lease lost');
    });
    this.lostLease = false;
  }

  /** CHECKPOINT, disconnect every connection, then close the instance, so the OS lock goes too. */
  private async closeDatabase(): Promise<void> {
    const instance = this.instance;
    const conn = this.conn;
    this.conn = null;
    this.instance = null;
    if (!instance) return;
    if (conn && !this.lostLease) {
      await conn.run('CHECKPOINT').catch((error: Error) => {
        this.options.logger.warn({ err: error.message }, 'checkpoint before handover failed');
      });
    }
    conn?.disconnectSync();
    for (const read of this.readConns.splice(0)) read.disconnectSync();
    instance.closeSync();
    await this.options.lock.noteFileClosed();
  }

  private async releaseLock(reason: string): Promise<void> {
    this.stopWatch();
    this.waitersSeen = 0;
    if (!this.grant) return;
    const heldMs = Date.now() - this.heldSince;
    this.grant = null;
    await this.options.lock.release();
    this.options.observer?.lockHeld?.(heldMs);
    this.options.logger.info({ heldMs, reason }, 'writer lock released');
  }

  private checkFatal(error: unknown): unknown {
    if (!isFatalDuckDbError(error)) return error;
    const fatal = new DatabaseFatalError(`DuckDB fatal error: ${(error as Error).message}`, { cause: error });
    if (this.options.onFatal) {
      this.options.onFatal(fatal);
    } else {
      this.options.logger.error(
        { err: fatal.message },
        'fatal database error: exiting so the supervisor restarts us',
      );
      process.exit(70);
    }
    return fatal;
  }
}
