import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Lease, newLeaseToken } from './lease.js';

export interface LeadershipOptions {
  redis: Redis;
  key: string;
  /** A leader that stops renewing (killed, frozen) loses the lead within this. */
  leaseMs: number;
  logger: Logger;
  /** Called when this process takes the lead: start working. */
  onLead: () => Promise<void> | void;
  /** Called when this process lost the lead (renewal refused): stop taking work. */
  onStandby: () => Promise<void> | void;
  /** How often a standby looks for a free lease; default a tenth of the lease (at least 100 ms). */
  pollMs?: number;
  /** What the leader does, for its log line `leading: <duty>`; default "taking jobs". */
  duty?: string;
}

/**
 * One replica of a role leads, the others stand by: a `Lease` (lease.ts) taken by whoever finds
 * it free, renewed every third of the lease, given up on close. The sync-worker's lead and the
 * backup-worker's operations monitor (keys in keys.ts, LEADER_KEYS). Two sync-workers that
 * both took ingest jobs would hand the DuckDB file to each other between transactions (close,
 * checkpoint, reopen each time); with a leader, the standby takes no work until the leader is
 * gone, and then takes over within the lease. Safety never rests on this lease: the writer lock
 * and the ingest ledger still stop a second writer and a double commit.
 */
export class Leadership {
  readonly token = newLeaseToken();
  private readonly lease: Lease;
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private closed = false;
  private ticking: Promise<void> = Promise.resolve();
  private readonly pollMs: number;

  constructor(private readonly options: LeadershipOptions) {
    this.pollMs = Math.max(100, options.pollMs ?? Math.floor(options.leaseMs / 10));
    this.lease = new Lease({ redis: options.redis, key: options.key, leaseMs: options.leaseMs });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): this {
    if (this.timer || this.closed) return this;
    this.schedule(0);
    return this;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.schedule(this.leading ? Math.max(50, Math.floor(this.options.leaseMs / 3)) : this.pollMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const { key, logger } = this.options;
    try {
      if (this.leading) {
        if (!(await this.lease.renew())) {
          this.leading = false;
          logger.warn({ key }, 'lost the lead (lease expired or taken over): standing by');
          await this.options.onStandby();
        }
        return;
      }
      const won = await this.lease.tryAcquire(this.token);
      if (won && !this.closed) {
        this.leading = true;
        logger.info({ key }, `leading: ${this.options.duty ?? 'taking jobs'}`);
        await this.options.onLead();
      }
    } catch (error) {
      // Redis unreachable: keep the current role; the next tick tries again.
      logger.warn({ key, err: (error as Error).message }, 'leadership lease check failed');
    }
  }

  /** Stops renewing and gives up the lead at once, so a standby takes over without waiting for the lease. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking.catch(() => undefined);
    this.leading = false;
    await this.lease.release();
  }
}

/**
 * Hooks for `Leadership` that run BullMQ workers (made with `autorun: false`) only while leading.
 * A standby still runs each worker's stalled-job check, so a dead leader's jobs go back to the
 * queue after the job lock (WORKER_LOCK_DURATION_MS) whoever is alive, not when a new leader starts.
 */
export function workersFollowingLead(workers: Worker[], logger: Logger) {
  const checkStalled = (worker: Worker) =>
    void worker
      .startStalledCheckTimer()
      .catch((error: Error) =>
        logger.warn({ queue: worker.name, err: error.message }, 'stalled check failed'),
      );
  for (const worker of workers) checkStalled(worker);
  return {
    onLead: () => {
      for (const worker of workers) worker.resume();
    },
    onStandby: async () => {
      // Take no new job; the ones under way finish (their commits still pass the writer lock).
      await Promise.all(workers.map((worker) => worker.pause(true)));
      for (const worker of workers) checkStalled(worker);
    },
  };
}
