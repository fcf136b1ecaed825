import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { runScript } from './scripts.js';

export interface LeaseOptions {
  redis: Redis;
  key: string;
  /** How long the lease lives without renewal: a dead holder loses it within this. */
  leaseMs: number;
  /** The lease turned out gone or taken over while we thought we held it. */
  onLost?: (reason: string) => void;
  /** A renewal by `keepRenewing` could not reach Redis (the lease may still be ours). */
  onRenewError?: (error: Error) => void;
}

/** A token that names its holder, for whoever reads the key in Redis. */
export const newLeaseToken = () => `${hostname()}:${process.pid}:${randomUUID()}`;

/**
 * A lease in Redis: a key holding a random token with a TTL, renewed while held, released by
 * compare-and-delete, so a holder that stalled past its TTL can never extend or delete a lease
 * another process took since. The one lease behind the writer lock and the backup-worker's
 * operations lock (packages/db writer-lock.ts, which adds a fair line and epochs), the roles led
 * by one replica (leadership.ts: the sync-worker, the operations monitor) and the scheduler's
 * reconcile lock.
 */
export class Lease {
  private held: string | null = null;
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: LeaseOptions) {}

  get key(): string {
    return this.options.key;
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  /** Our token while we believe we hold the lease, else null. */
  get token(): string | null {
    return this.held;
  }

  /** One try (SET NX PX): true when the lease is now ours. Redis errors are thrown. */
  async tryAcquire(token = newLeaseToken()): Promise<boolean> {
    const { redis, key, leaseMs } = this.options;
    const won = await redis.set(key, token, 'PX', leaseMs, 'NX');
    if (won !== 'OK') return false;
    this.held = token;
    return true;
  }

  /** Tries every `pollMs` until the lease is ours (true) or `waitMs` passed (false). */
  async acquire(options: { waitMs: number; pollMs: number }): Promise<boolean> {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      if (await this.tryAcquire()) return true;
      if (Date.now() > deadline) return false;
      await delay(options.pollMs);
    }
  }

  /** Takes over a token another script already wrote to the key (the writer lock's fair acquire). */
  adopt(token: string): void {
    this.held = token;
  }

  /**
   * Extends the lease if it is still ours: true when extended; false when it expired or another
   * process holds it (then it is dropped here and `onLost` is told). Redis errors are thrown.
   */
  async renew(): Promise<boolean> {
    const token = this.held;
    if (!token) return false;
    const { redis, key, leaseMs } = this.options;
    const ok = (await runScript(redis, 'lease-renew', [key], [token, leaseMs])) === 1;
    if (!ok && this.held === token) {
      this.drop();
      this.options.onLost?.('the lease expired or was taken over');
    }
    return ok;
  }

  /** Renews at a third of the lease, so two renewals may fail before it expires. */
  keepRenewing(): void {
    this.stopRenewing();
    this.renewTimer = setInterval(
      () => {
        this.renew().catch((error: Error) => this.options.onRenewError?.(error));
      },
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    this.renewTimer.unref();
  }

  stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /** Gives the lease up at once (if still ours), so the next holder need not wait for the TTL. Never throws. */
  async release(): Promise<void> {
    const token = this.held;
    this.drop();
    if (!token) return;
    await runScript(this.options.redis, 'delete-if-equal', [this.options.key], [token]).catch(
      () => undefined,
    );
  }

  private drop(): void {
    this.stopRenewing();
    this.held = null;
  }
}
