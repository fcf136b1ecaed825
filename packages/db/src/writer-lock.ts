import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { LockTimeoutError } from './errors.js';

/**
 * The single writer lock: a lease in Redis with a random token, renewed while held, released by
 * compare-and-delete. Waiters queue in arrival order (a sorted set with a heartbeat each), so a
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

const ACQUIRE = `
-- KEYS: lock, order zset, heartbeat zset, epoch; ARGV: token, leaseMs, now, waiterTtlMs
local stale = tonumber(ARGV[3]) - tonumber(ARGV[4])
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', stale)
for _, member in ipairs(dead) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if first and first ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('INCR', KEYS[4])
`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const WAITERS = `
-- KEYS: order zset, heartbeat zset; ARGV: now, waiterTtlMs
local stale = tonumber(ARGV[1]) - tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', stale)
for _, member in ipairs(dead) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
end
return redis.call('ZCARD', KEYS[1])
`;

export class WriterLock extends EventEmitter<WriterLockEvents> {
  readonly key: string;
  readonly leaseMs: number;
  private readonly redis: Redis;
  private readonly pollMs: number;
  private readonly waiterTtlMs: number;
  private held: LockGrant | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** This lock's entry among the stack's openers of the file (see noteFileOpen). */
  private readonly opener = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  constructor(options: WriterLockOptions) {
    super();
    this.redis = options.redis;
    this.key = options.key ?? 'datasync:writer-lock';
    this.leaseMs = options.leaseMs ?? 15_000;
    this.pollMs = options.pollMs ?? 25;
    this.waiterTtlMs = Math.max(1_000, this.pollMs * 40);
  }

  get grant(): LockGrant | null {
    return this.held;
  }

  private keys() {
    return [this.key, `${this.key}:queue`, `${this.key}:heartbeat`, `${this.key}:epoch`];
  }

  /** Waits in line for the lease. Rejects when `signal` aborts or `timeoutMs` passes. */
  async acquire(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<LockGrant> {
    if (this.held) return this.held;
    const token = randomBytes(16).toString('hex');
    const started = Date.now();
    const [lockKey, queueKey, beatKey, epochKey] = this.keys();
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
        if (!queued) pipeline.zadd(queueKey!, 'NX', now, token);
        pipeline.zadd(beatKey!, now, token);
        await pipeline.exec();
        queued = true;
        const epoch = (await this.redis.eval(
          ACQUIRE,
          4,
          lockKey!,
          queueKey!,
          beatKey!,
          epochKey!,
          token,
          this.leaseMs,
          now,
          this.waiterTtlMs,
        )) as number;
        if (epoch > 0) {
          queued = false;
          this.held = { token, epoch, waitedMs: Date.now() - started };
          this.startRenewal();
          return this.held;
        }
        await delay(this.pollMs);
      }
    } finally {
      if (queued) {
        await this.redis
          .multi()
          .zrem(queueKey!, token)
          .zrem(beatKey!, token)
          .exec()
          .catch(() => undefined);
      }
    }
  }

  /** True while Redis still holds our token (and extends the lease). False on any doubt. */
  async confirm(): Promise<boolean> {
    const grant = this.held;
    if (!grant) return false;
    try {
      const ok = (await this.redis.eval(RENEW, 1, this.key, grant.token, this.leaseMs)) as number;
      if (ok !== 1) this.markLost('the lease expired or was taken over');
      return ok === 1;
    } catch (error) {
      this.emit('renewError', error as Error);
      return false;
    }
  }

  /** How many other processes are waiting for the lock. */
  async waiters(): Promise<number> {
    const [, queueKey, beatKey] = this.keys();
    return (await this.redis.eval(WAITERS, 2, queueKey!, beatKey!, Date.now(), this.waiterTtlMs)) as number;
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
      .del(`${this.key}:openers`)
      .hset(`${this.key}:openers`, this.opener, entry)
      .exec()
      .catch(() => undefined);
  }

  async noteFileClosed(): Promise<void> {
    await this.redis.hdel(`${this.key}:openers`, this.opener).catch(() => undefined);
  }

  /**
   * Whether the process DuckDB names as holding the file is one of the stack's (it noted the file
   * open and has not closed it). Without a PID (another PID namespace), any other open entry counts.
   */
  async isStackHolder(pid: number | null): Promise<boolean> {
    const entries = await this.redis.hgetall(`${this.key}:openers`).catch(() => ({}));
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
    const grant = this.held;
    this.stopRenewal();
    this.held = null;
    if (!grant) return;
    await this.redis.eval(RELEASE, 1, this.key, grant.token).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.release();
  }

  private markLost(reason: string) {
    if (!this.held) return;
    this.stopRenewal();
    this.held = null;
    this.emit('lost', reason);
  }

  private startRenewal() {
    this.stopRenewal();
    // Renew at a third of the lease: two renewals may fail before it expires.
    this.renewTimer = setInterval(
      () => {
        void this.confirm();
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.renewTimer.unref();
  }

  private stopRenewal() {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }
}
