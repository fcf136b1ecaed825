import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { Lease, runScript, WRITER_LOCK_KEY, writerLockKeys } from '@datasync/runtime/coordination';
import type { Redis } from 'ioredis';
import { LockTimeoutError } from './errors.js';

/**
 * The single writer lock: a `Lease` (packages/runtime lease.ts: a random token, renewed while
 * held, released by compare-and-delete) taken by a fair acquire of its own. Waiters queue in arrival order (a sorted set with a heartbeat each), so a
 * holder that hands over between transactions and wants the lock back goes to the back of the
 * line instead of snatching it again. An epoch from INCR at each acquire fences stale holders.
 *
 * The lease is not the only barrier: DuckDB's own file lock refuses a second opener on the host,
 * and the holder checks its lease right before every COMMIT (see DatabaseWriter).
 */

export interface WriterLockOptions {
  redis: Redis;
  /** Redis key of the lease; the waiter queue and epoch live beside it. */
  key?: string;
  /** How long the lease lives without renewal: a dead holder loses it within this. */
  leaseMs?: number;
  /** How often a waiter tries again and refreshes its place in line. */
  pollMs?: number;
}

export interface LockGrant {
  token: string;
  epoch: number;
  waitedMs: number;
}

export interface WriterLockEvents {
  lost: [reason: string];
  renewError: [error: Error];
}

export class WriterLock extends EventEmitter<WriterLockEvents> {
  readonly key: string;
  readonly leaseMs: number;
  private readonly redis: Redis;
  private readonly pollMs: number;
  private readonly waiterTtlMs: number;
  private held: LockGrant | null = null;
  private readonly lease: Lease;
  private readonly keys: ReturnType<typeof writerLockKeys>;
  private closed = false;
  /** This lock's entry among the stack's openers of the file (see noteFileOpen). */
  private readonly opener = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  constructor(options: WriterLockOptions) {
    super();
    this.redis = options.redis;
    this.key = options.key ?? WRITER_LOCK_KEY;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.pollMs = options.pollMs ?? 25;
    this.waiterTtlMs = Math.max(1_000, this.pollMs * 40);
    this.keys = writerLockKeys(this.key);
    this.lease = new Lease({
      redis: this.redis,
      key: this.key,
      leaseMs: this.leaseMs,
      onLost: (reason) => this.markLost(reason),
      onRenewError: (error) => this.emit('renewError', error),
    });
  }

  get grant(): LockGrant | null {
    return this.held;
  }

  /** Waits in line for the lease. Rejects when `signal` aborts or `timeoutMs` passes. */
  async acquire(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<LockGrant> {
    if (this.held) return this.held;
    const token = randomBytes(16).toString('hex');
    const started = Date.now();
    const { lease: lockKey, queue: queueKey, heartbeat: beatKey, epoch: epochKey } = this.keys;
    let queued = false;
    try {
      for (;;) {
        if (this.closed) throw new Error('writer lock closed while waiting');
        options.signal?.throwIfAborted();
        const now = Date.now();
        if (options.timeoutMs !== undefined && now - started > options.timeoutMs) {
          throw new LockTimeoutError(`waited ${now - started} ms for the writer lock`);
        }
        // Join (or stay in) the line: order by arrival, liveness by heartbeat.
        const pipeline = this.redis.multi();
        if (!queued) pipeline.zadd(queueKey, 'NX', now, token);
        pipeline.zadd(beatKey, now, token);
        await pipeline.exec();
        queued = true;
        const epoch = (await runScript(
          this.redis,
          'writer-lock-acquire',
          [lockKey, queueKey, beatKey, epochKey],
          [token, this.leaseMs, now, this.waiterTtlMs],
        )) as number;
        if (epoch > 0) {
          queued = false;
          this.held = { token, epoch, waitedMs: Date.now() - started };
          this.lease.adopt(token);
          this.lease.keepRenewing();
          return this.held;
        }
        await delay(this.pollMs);
      }
    } finally {
      if (queued) {
        await this.redis
          .multi()
          .zrem(queueKey, token)
          .zrem(beatKey, token)
          .exec()
          .catch(() => undefined);
      }
    }
  }

  /** True while Redis still holds our token (and extends the lease). False on any doubt. */
  async confirm(): Promise<boolean> {
    if (!this.held) return false;
    try {
      // A lease found gone or taken over calls markLost (the Lease's onLost).
      return await this.lease.renew();
    } catch (error) {
      this.emit('renewError', error as Error);
      return false;
    }
  }

  /** How many other processes are waiting for the lock. */
  async waiters(): Promise<number> {
    const { queue, heartbeat } = this.keys;
    return (await runScript(
      this.redis,
      'writer-lock-waiters',
      [queue, heartbeat],
      [Date.now(), this.waiterTtlMs],
    )) as number;
  }

  /**
   * Records that this process has the DuckDB file open, so a later holder kept out of the file can
   * tell one of the stack's own processes (paused, still closing) from an outside reader. Whoever
   * opens the file read-write has it alone, so every other entry is a leftover and goes.
   */
  async noteFileOpen(): Promise<void> {
    const entry = JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() });
    await this.redis
      .multi()
      .del(this.keys.openers)
      .hset(this.keys.openers, this.opener, entry)
      .exec()
      .catch(() => undefined);
  }

  async noteFileClosed(): Promise<void> {
    await this.redis.hdel(this.keys.openers, this.opener).catch(() => undefined);
  }

  /**
   * Whether the process DuckDB names as holding the file is one of the stack's (it noted the file
   * open and has not closed it). Without a PID (another PID namespace), any other open entry counts.
   */
  async isStackHolder(pid: number | null): Promise<boolean> {
    const entries = await this.redis.hgetall(this.keys.openers).catch(() => ({}));
    return Object.entries(entries).some(([field, text]) => {
      if (field === this.opener) return false;
      if (pid === null) return true;
      try {
        return (JSON.parse(text) as { pid?: number }).pid === pid;
      } catch {
        return false;
      }
    });
  }

  async release(): Promise<void> {
    this.held = null;
    await this.lease.release();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.release();
  }

  private markLost(reason: string) {
    if (!this.held) return;
    this.held = null;
    this.lease.stopRenewing();
    this.emit('lost', reason);
  }
}
